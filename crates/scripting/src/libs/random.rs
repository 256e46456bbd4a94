//! `math.random` and `math.randomseed` on Redis's own PRNG instead of the C library's
//! `rand()`, so a script draws the same numbers on every server: the 48-bit linear
//! congruential generator of POSIX `lrand48` (multiplier 0x5DEECE66D, increment 0xB).
//! Redis 7.0 never reseeds it between scripts: the sequence starts from the generator's
//! unseeded state ([`INITIAL_STATE`]) when the server starts and goes on across EVAL and
//! FCALL, so the host creates the state once and shares it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use mlua::{Lua, MultiValue, Result, Table, Value};

use super::{answer, check_number};

const MULTIPLIER: u64 = 0x5_DEEC_E66D;
const INCREMENT: u64 = 0xB;
const MASK: u64 = (1 << 48) - 1;
/// The largest value the generator returns, the divisor that maps draws to [0, 1).
const MAX: u64 = i32::MAX as u64;

/// `lrand48`'s state before any `srand48`: Redis 7.0's first `math.random(1000)` after
/// start-up (397) comes from it.
pub const INITIAL_STATE: u64 = 0x1234_ABCD_330E;

/// The generator's state after `srand48(seed)`: the seed in the high 32 bits, 0x330E below.
pub(crate) fn seed_state(seed: i32) -> u64 {
    (((seed as u32 as u64) << 16) | 0x330E) & MASK
}

fn next(state: &AtomicU64) -> u64 {
    let x = state.load(Ordering::Relaxed);
    let x = (x.wrapping_mul(MULTIPLIER).wrapping_add(INCREMENT)) & MASK;
    state.store(x, Ordering::Relaxed);
    x >> 17
}

/// Adds `random` and `randomseed` to the sandbox's helper table.
pub(crate) fn install(lua: &Lua, rust: &Table, state: Arc<AtomicU64>) -> Result<()> {
    let draw_state = state.clone();
    rust.raw_set(
        "random",
        lua.create_function(move |lua, args: MultiValue| {
            answer(lua, random(lua, &draw_state, &args))
        })?,
    )?;
    rust.raw_set(
        "randomseed",
        lua.create_function(move |lua, args: MultiValue| {
            let seeded = check_number(lua, &args, 0, "randomseed").map(|seed| {
                state.store(seed_state(seed as i32), Ordering::Relaxed);
                MultiValue::new()
            });
            answer(lua, seeded)
        })?,
    )?;
    Ok(())
}

/// Lua 5.1's `math.random` with the draw from [`next`].
fn random(
    lua: &Lua,
    state: &AtomicU64,
    args: &MultiValue,
) -> std::result::Result<MultiValue, String> {
    let r = (next(state) % MAX) as f64 / MAX as f64;
    let value = match args.len() {
        0 => r,
        1 => {
            let upper = check_number(lua, args, 0, "random")? as i32;
            if upper < 1 {
                return Err("bad argument #1 to 'random' (interval is empty)".into());
            }
            (r * upper as f64).floor() + 1.0
        }
        2 => {
            let lower = check_number(lua, args, 0, "random")? as i32;
            let upper = check_number(lua, args, 1, "random")? as i32;
            if lower > upper {
                return Err("bad argument #2 to 'random' (interval is empty)".into());
            }
            (r * (upper as f64 - lower as f64 + 1.0)).floor() + lower as f64
        }
        _ => return Err("wrong number of arguments".into()),
    };
    Ok(MultiValue::from_iter([Value::Number(value)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sequence_matches_a_fresh_redis_eval() {
        // Real Redis 7.0.15: `EVAL "return {math.random(1000), math.random(1000), ...}" 0`.
        let state = AtomicU64::new(INITIAL_STATE);
        let draws: Vec<u64> = (0..3)
            .map(|_| {
                let r = (next(&state) % MAX) as f64 / MAX as f64;
                (r * 1000.0).floor() as u64 + 1
            })
            .collect();
        assert_eq!(draws, [397, 841, 354]);
    }
}
