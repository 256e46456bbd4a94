//! Compiles the C helper for INCRBYFLOAT's `long double` arithmetic (see csrc/long_double.c).

fn main() {
    println!("cargo:rerun-if-changed=csrc/long_double.c");
    cc::Build::new()
        .file("csrc/long_double.c")
        .warnings(true)
        .compile("redis_lite_long_double");
}
