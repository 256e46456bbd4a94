//! `redis-lite-cli`: the program is the library's `main` (shared with the multi-call
//! `redis-lite` binary of the container image).

fn main() {
    redis_lite_cli::main()
}
