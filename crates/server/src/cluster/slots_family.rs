//! CLUSTER KEYSLOT, COUNTKEYSINSLOT and GETKEYSINSLOT: the slot of a key, and the keys this
//! node holds in a slot. They read the engine's slot mapping (`redis_lite_engine::slot`) and
//! the per-slot index a cluster-mode keyspace keeps (`Keyspace::keys_in_slot`,
//! `Keyspace::slot_keys`), so none of them scans the keyspace.

use redis_lite_engine::slot::{key_slot, SLOTS};

use crate::command::acl;
use crate::command::flags::*;
use crate::command::{CommandSpec, Group};
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};

/// CLUSTER KEYSLOT, for the CLUSTER container's table (as the two below).
pub const KEYSLOT: CommandSpec = CommandSpec::new("keyslot", 3, STALE, cluster_keyslot)
    .doc(
        Group::Cluster,
        "3.0.0",
        "Returns the hash slot of the specified key",
    )
    .complexity("O(N) where N is the number of bytes in the key")
    .syntax("key:string")
    .acl(acl::SLOW);

pub const COUNTKEYSINSLOT: CommandSpec =
    CommandSpec::new("countkeysinslot", 3, STALE, cluster_countkeysinslot)
        .doc(
            Group::Cluster,
            "3.0.0",
            "Return the number of local keys in the specified hash slot",
        )
        .complexity("O(1)")
        .syntax("slot:integer")
        .acl(acl::SLOW);

pub const GETKEYSINSLOT: CommandSpec =
    CommandSpec::new("getkeysinslot", 4, STALE, cluster_getkeysinslot)
        .tips(&["nondeterministic_output"])
        .doc(
            Group::Cluster,
            "3.0.0",
            "Return local key names in the specified hash slot",
        )
        .complexity("O(log(N)) where N is the number of requested keys")
        .syntax("slot:integer count:integer")
        .acl(acl::SLOW);

/// What CLUSTER answers on a server not started with `cluster-enabled yes`: its keyspace then
/// keeps no slot index.
fn require_cluster(ctx: &Ctx<'_>) -> CmdResult {
    if ctx.server.keyspace.is_cluster() {
        Ok(())
    } else {
        Err(CommandError::err(
            "This instance has cluster support disabled",
        ))
    }
}

/// A slot argument: an integer (Redis's integer error otherwise) in 0..16384.
fn slot_arg(ctx: &Ctx<'_>, i: usize) -> Result<Option<usize>, CommandError> {
    let slot = ctx.arg_i64(i)?;
    Ok(usize::try_from(slot).ok().filter(|&s| s < SLOTS))
}

/// CLUSTER KEYSLOT key
fn cluster_keyslot(ctx: &mut Ctx<'_>) -> CmdResult {
    require_cluster(ctx)?;
    let slot = key_slot(ctx.arg(2));
    ctx.out.integer(i64::from(slot));
    Ok(())
}

/// CLUSTER COUNTKEYSINSLOT slot
fn cluster_countkeysinslot(ctx: &mut Ctx<'_>) -> CmdResult {
    require_cluster(ctx)?;
    let slot = slot_arg(ctx, 2)?.ok_or_else(|| CommandError::err("Invalid slot"))?;
    let keys = ctx.server.keyspace.keys_in_slot(0, slot);
    ctx.out.integer(keys as i64);
    Ok(())
}

/// CLUSTER GETKEYSINSLOT slot count
///
/// The keys come in the order the slot's table holds them (as SCAN visits them), not in
/// Redis's (the most recently added key first, from the per-slot list of keys it keeps): that
/// order would need such a list, a pointer pair per key, where this index keeps a counter per
/// slot. Clients (redis-cli's reshard among them) only take the keys as a batch to MIGRATE.
fn cluster_getkeysinslot(ctx: &mut Ctx<'_>) -> CmdResult {
    require_cluster(ctx)?;
    // Both are parsed before either is checked, as Redis does.
    let slot = slot_arg(ctx, 2)?;
    let count = ctx.arg_i64(3)?;
    let (Some(slot), Ok(count)) = (slot, usize::try_from(count)) else {
        return Err(CommandError::err("Invalid slot or number of keys"));
    };
    let keyspace = &ctx.server.keyspace;
    let mut keys = Vec::with_capacity(count.min(keyspace.keys_in_slot(0, slot)));
    let mut cursor = 0;
    while keys.len() < count {
        cursor = keyspace.slot_keys(0, slot, cursor, count - keys.len(), |entry| {
            if keys.len() < count {
                keys.push(entry.key().to_vec());
            }
        });
        if cursor == 0 {
            break;
        }
    }
    ctx.out.array(keys.len());
    for key in &keys {
        ctx.out.bulk(key);
    }
    Ok(())
}
