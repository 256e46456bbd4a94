//! Compiles the C helper for INCRBYFLOAT's `long double` arithmetic (see csrc/long_double.c),
//! and records how this build was made (`build_info`): the cargo profile and whether the C
//! runtime is linked statically.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=csrc/long_double.c");
    cc::Build::new()
        .file("csrc/long_double.c")
        .warnings(true)
        .compile("redis_lite_long_double");

    // Cargo tells build scripts only "debug" or "release" (PROFILE); the profile's own name
    // (`dist`) is the directory OUT_DIR sits in: <profile>/build/<package>-<hash>/out.
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let profile = Path::new(&out_dir)
        .ancestors()
        .nth(3)
        .and_then(Path::file_name)
        .and_then(|name| name.to_str())
        .unwrap_or("unknown")
        .to_string();
    println!("cargo:rustc-env=REDIS_LITE_BUILD_PROFILE={profile}");
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let linkage = if features.split(',').any(|f| f == "crt-static") {
        "static"
    } else {
        "dynamic"
    };
    println!("cargo:rustc-env=REDIS_LITE_LINKAGE={linkage}");
}
