//! SORT and SORT_RO against real Redis.
use redis_lite_testkit as testkit;

use testkit::differential;

#[test]
fn sort_matches_redis() {
    differential(testkit::script!("sort/sort_matches_redis"), false);
}
