//! Native figures for the hot pure functions: token verification per second on one core, and the
//! raw SHA-256 proof-of-work hash rate. Prints; asserts nothing. `cargo bench -p gatehouse-core`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use gatehouse_core::config::{parse_key_ring, TokenSettings};
use gatehouse_core::credentials::token::{
    binding_hash, check, issue, Binding, Fingerprint, Issue, Via,
};
use gatehouse_core::rails::pow;

fn per_second(label: &str, mut f: impl FnMut()) -> f64 {
    for _ in 0..1_000 {
        f();
    }
    let budget = Duration::from_millis(1_500);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..1_000 {
            f();
        }
        n += 1_000;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    println!("{label:<44} {rate:>14.0} /s   ({:.2} µs each)", 1e6 / rate);
    rate
}

fn main() {
    let settings = TokenSettings {
        ttl_s: 300,
        grant: 60,
        binding: Binding::parse("user_agent,client_key").unwrap(),
        keys: parse_key_ring("k1:0123456789abcdef0123456789abcdef0123456789").unwrap(),
        issuer: "gatehouse".into(),
    };
    let fp = Fingerprint {
        user_agent: "agent/1.0",
        client_key: "key:0123456789abcdef",
        ip: "203.0.113.9",
    };
    let bnd = binding_hash(settings.binding, fp);
    let (token, _) = issue(
        &settings,
        Issue {
            audience: "https://gw.example",
            subject: fp.client_key,
            binding_hash: bnd.clone(),
            jti: "0123456789abcdef0123456789abcdef".into(),
            via: Via::Pow,
            now_s: 1_000,
            reduced: None,
            route: Some("main"),
        },
    );
    per_second("token verify (HS256 + claims + binding)", || {
        black_box(
            check(
                &settings,
                black_box(&token),
                "https://gw.example",
                &bnd,
                1_100,
            )
            .unwrap(),
        );
    });
    per_second("binding hash (SHA-256 of the fingerprint)", || {
        black_box(binding_hash(settings.binding, black_box(fp)));
    });
    let salt = "ae6556c259f7f571416f078fd92304cc";
    let mut nonce = 0u64;
    let hashes = per_second("PoW hash (sha256(salt + nonce))", || {
        nonce += 1;
        black_box(pow::digest(salt, &nonce.to_string()));
    });
    for bits in [12u8, 14, 16, 20] {
        let secs = pow::estimated_hashes(bits) as f64 / hashes;
        println!(
            "expected solve at {bits:>2} bits, one core: {:>10.2} ms",
            secs * 1e3
        );
    }
}
