//! `redis-lite`: the server, `redis-lite-cli` and `redis-lite-check` in one executable, chosen by
//! the name it is called by (`argv[0]`, as busybox does). The container image ships this one
//! file under the three names: the three programs share most of their code (the CLI the
//! protocol and TLS, the checker the whole server's loaders), so one static executable is
//! about the size of the server alone, where three would be twice it.

use std::path::Path;
use std::process::ExitCode;

// The server's allocator (see redis_lite_server::memory), for all three programs.
#[global_allocator]
static GLOBAL: redis_lite_server::memory::CountingJemalloc =
    redis_lite_server::memory::CountingJemalloc;

fn main() -> ExitCode {
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let name = Path::new(&argv0)
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or_default();
    match name {
        "redis-lite-cli" => {
            redis_lite_cli::main();
            ExitCode::SUCCESS
        }
        "redis-lite-check" => redis_lite_check::main(),
        // redis-lite-server, or the file's own name.
        _ => {
            redis_lite_server::entry::main();
            ExitCode::SUCCESS
        }
    }
}
