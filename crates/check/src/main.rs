//! `redis-lite-check`: the program is the library's `main` (shared with the multi-call
//! `redis-lite` binary of the container image).

fn main() -> std::process::ExitCode {
    redis_lite_check::main()
}
