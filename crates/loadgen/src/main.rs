//! `redis-lite-loadgen`: the program is the library's `main`.

fn main() -> std::process::ExitCode {
    redis_lite_loadgen::main()
}
