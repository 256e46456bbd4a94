//! Start-up smoke test: the harness starts both servers and the basics agree byte for byte.
mod common;

#[test]
fn basics_match_redis() {
    common::differential(
        &[
            &["PING"],
            &["PING", "hi"],
            &["PING", "a", "b"],
            &["SET", "k", "v"],
            &["GET", "k"],
            &["GET", "missing"],
            &["GET"],
            &["DEL", "k", "missing"],
            &["NOSUCHCOMMAND", "a", "b"],
        ],
        false,
    );
}

#[test]
fn redis_crate_talks_resp2_and_resp3() {
    let server = common::Server::lite(&[]);
    for mut con in [server.client(), server.client3()] {
        let _: () = redis::cmd("SET")
            .arg("k")
            .arg(b"\x00\xffbin")
            .query(&mut con)
            .unwrap();
        let v: Vec<u8> = redis::cmd("GET").arg("k").query(&mut con).unwrap();
        assert_eq!(v, b"\x00\xffbin");
    }
}
