//! Fault injection for the fault tests (`tests/integration/faults.rs`): `DEBUG FAULT` makes the
//! AOF's writes or fsyncs, or snapshot writes, fail with an errno or stall until the test
//! releases them, steps the wall clock the server reads, and delays commands between their
//! admission and their gates (`tests/integration/reshard.rs`).
//!
//! A real file system gives ENOSPC on demand (the tests fill a small tmpfs), but not EIO nor a
//! failed or stuck fsync, so those need a switch. It is compiled only into debug builds
//! (`cfg(debug_assertions)`), which is what `cargo test` builds and launches: a release build,
//! every shipped binary included, has neither the DEBUG subcommand nor the checks (they are an
//! inlined `Ok(())`), so no client can reach it there. A cargo feature would do the same but
//! need every test command (CI's `cargo test --workspace`, the README's) to name it; an
//! environment variable could be left set on a production server.

use std::io;

/// Where a fault can be injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    /// Each write(2) of AOF records to the incremental file.
    AofWrite,
    /// Each fsync of the incremental file (the background thread's under `everysec`).
    AofFsync,
    /// Each snapshot written to disk (SAVE, BGSAVE), before its first byte.
    RdbSave,
}

/// Runs the fault injected at `point`, if any: an error, or a wait until the test clears it.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn inject(_point: Point) -> io::Result<()> {
    Ok(())
}

/// Waits as long as `DEBUG FAULT admission-delay` says, between a command's admission (the
/// cluster rule judged it) and its gates, where a command on another event loop can run.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn after_admission() {}

#[cfg(debug_assertions)]
pub use switch::{after_admission, debug_fault, inject};

#[cfg(debug_assertions)]
mod switch {
    use super::{io, Point};
    use crate::context::Ctx;
    use crate::error::{CmdResult, CommandError};
    use parking_lot::{Condvar, Mutex};
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Fault {
        Off,
        Fail(i32),
        Stall,
    }

    const POINTS: [(&str, Point); 3] = [
        ("aof-write", Point::AofWrite),
        ("aof-fsync", Point::AofFsync),
        ("rdb-save", Point::RdbSave),
    ];

    /// The fault at each of [`POINTS`], in its order.
    static FAULTS: Mutex<[Fault; POINTS.len()]> = Mutex::new([Fault::Off; POINTS.len()]);
    /// Wakes stalled points when a fault changes.
    static CHANGED: Condvar = Condvar::new();
    /// `admission-delay`, in microseconds; 0 for none.
    static ADMISSION_DELAY_US: AtomicU64 = AtomicU64::new(0);

    pub fn after_admission() {
        let delay = ADMISSION_DELAY_US.load(Relaxed);
        if delay != 0 {
            std::thread::sleep(std::time::Duration::from_micros(delay));
        }
    }

    fn index(point: Point) -> usize {
        POINTS
            .iter()
            .position(|(_, p)| *p == point)
            .expect("every point is listed")
    }

    pub fn inject(point: Point) -> io::Result<()> {
        let mut faults = FAULTS.lock();
        loop {
            match faults[index(point)] {
                Fault::Off => return Ok(()),
                Fault::Fail(errno) => return Err(io::Error::from_raw_os_error(errno)),
                Fault::Stall => CHANGED.wait(&mut faults),
            }
        }
    }

    /// `DEBUG FAULT <aof-write|aof-fsync|rdb-save> <off|eio|enospc|stall>`,
    /// `DEBUG FAULT clock-step <milliseconds>` (the wall clock moved by that much, back when
    /// negative), and `DEBUG FAULT admission-delay <microseconds>` (each command waits that
    /// long after its admission: a race with another event loop's command made likely).
    pub fn debug_fault(ctx: &mut Ctx<'_>) -> CmdResult {
        let point = ctx.arg(2).to_ascii_lowercase();
        let setting = ctx.arg(3).to_ascii_lowercase();
        let number = || {
            std::str::from_utf8(&setting)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| CommandError::err("value is not an integer or out of range"))
        };
        if point == b"clock-step" {
            redis_lite_engine::step_wall_clock(number()?);
            crate::dispatch::forget_clock_pairing();
            ctx.out.ok();
            return Ok(());
        }
        if point == b"admission-delay" {
            let delay = u64::try_from(number()?)
                .map_err(|_| CommandError::err("value is out of range, must be positive"))?;
            ADMISSION_DELAY_US.store(delay, Relaxed);
            ctx.out.ok();
            return Ok(());
        }
        let Some((_, point)) = POINTS.iter().find(|(name, _)| name.as_bytes() == point) else {
            return Err(CommandError::err("unknown fault point"));
        };
        let fault = match setting.as_slice() {
            b"off" => Fault::Off,
            b"eio" => Fault::Fail(libc::EIO),
            b"enospc" => Fault::Fail(libc::ENOSPC),
            b"stall" => Fault::Stall,
            _ => return Err(CommandError::err("unknown fault")),
        };
        FAULTS.lock()[index(*point)] = fault;
        CHANGED.notify_all();
        ctx.out.ok();
        Ok(())
    }
}
