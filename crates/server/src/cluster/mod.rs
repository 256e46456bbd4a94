//! Redis Cluster. `slots_family`: the hash slot subcommands of CLUSTER (KEYSLOT,
//! COUNTKEYSINSLOT, GETKEYSINSLOT), on the engine's slot mapping and per-slot key index.

pub mod slots_family;
