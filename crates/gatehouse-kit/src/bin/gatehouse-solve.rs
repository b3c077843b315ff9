//! `gatehouse-solve`: solve a Gatehouse proof-of-work challenge, pay an L402 one, or measure
//! this machine.
//!
//! ```text
//! gatehouse-solve solve <salt> <difficulty> [--threads N]   # prints {"nonce", "hashes", "ms"}
//! gatehouse-solve l402 '<WWW-Authenticate value>' WALLET   # prints the Authorization value
//! gatehouse-solve pay <bolt11> WALLET                       # prints the preimage
//! gatehouse-solve bench [--seconds S]                      # hash rates, and openssl's for scale
//! ```
//!
//! WALLET is `--lnbits <url> --key <admin key>` or `--lnd <url> --macaroon <hex>`, optionally with
//! `--max-sats <n>`: the most one invoice may ask (10 by default), read from the invoice itself;
//! a dearer invoice, or one without an amount, is not paid.

use std::process::{Command, ExitCode};
use std::time::Duration;

use gatehouse_kit::budget::{Budget, DEFAULT_MAX_SATS_PER_INVOICE};
use gatehouse_kit::lightning::{l402_authorization, Wallet};
use gatehouse_kit::{hash_rate, solve};

fn threads_default() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// OpenSSL's SHA-256 rate on 64-byte inputs, in hashes per second, when `openssl` is installed.
fn openssl_rate(seconds: u64) -> Option<f64> {
    let out = Command::new("openssl")
        .args([
            "speed",
            "-evp",
            "sha256",
            "-bytes",
            "64",
            "-seconds",
            &seconds.to_string(),
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("sha256"))?;
    let kbytes: f64 = line
        .split_whitespace()
        .nth(1)?
        .trim_end_matches('k')
        .parse()
        .ok()?;
    Some(kbytes * 1_000.0 / 64.0)
}

fn wallet(args: &[String]) -> Option<Wallet> {
    match (
        flag(args, "--lnbits"),
        flag(args, "--key"),
        flag(args, "--lnd"),
        flag(args, "--macaroon"),
    ) {
        (Some(url), Some(admin_key), None, None) => Some(Wallet::Lnbits { url, admin_key }),
        (None, None, Some(url), Some(macaroon_hex)) => Some(Wallet::Lnd { url, macaroon_hex }),
        _ => None,
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some(cmd @ ("l402" | "pay")) if args.len() >= 2 => {
            let Some(wallet) = wallet(&args) else {
                eprintln!("a wallet is needed: --lnbits <url> --key <admin key>, or --lnd <url> --macaroon <hex>");
                return ExitCode::from(2);
            };
            let max_sats = match flag(&args, "--max-sats").map(|n| n.parse::<u64>()) {
                None => DEFAULT_MAX_SATS_PER_INVOICE,
                Some(Ok(n)) => n,
                Some(Err(_)) => {
                    eprintln!("--max-sats must be a whole number of satoshis");
                    return ExitCode::from(2);
                }
            };
            // One invocation pays at most one invoice, so its total is the per-invoice cap.
            let budget = Budget::new(max_sats, max_sats);
            let result = if cmd == "l402" {
                l402_authorization(&args[1], &wallet, &budget)
            } else {
                wallet.pay(&args[1], &budget)
            };
            match result {
                Ok(out) => {
                    println!("{out}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
        Some("solve") if args.len() >= 3 => {
            let Ok(bits) = args[2].parse::<u8>() else {
                eprintln!("difficulty must be a number of bits (0-64)");
                return ExitCode::from(2);
            };
            if !args[1].bytes().all(|b| b.is_ascii_hexdigit()) || bits > 64 {
                eprintln!("salt must be hex and difficulty at most 64 bits");
                return ExitCode::from(2);
            }
            let threads = flag(&args, "--threads")
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(threads_default);
            let s = solve(&args[1], bits, threads);
            println!(
                "{{\"nonce\":\"{}\",\"hashes\":{},\"ms\":{:.3}}}",
                s.nonce,
                s.hashes,
                s.elapsed.as_secs_f64() * 1e3
            );
            ExitCode::SUCCESS
        }
        Some("bench") => {
            let seconds = flag(&args, "--seconds")
                .and_then(|s| s.parse().ok())
                .unwrap_or(2u64);
            let one = hash_rate(1, Duration::from_secs(seconds));
            let all_threads = threads_default();
            let all = hash_rate(all_threads, Duration::from_secs(seconds));
            println!("solver, 1 thread:   {:>14.0} hashes/s", one);
            println!(
                "solver, {all_threads} threads:  {:>14.0} hashes/s ({:.2}x)",
                all,
                all / one
            );
            match openssl_rate(seconds) {
                Some(ossl) => println!("openssl speed -evp sha256, 64-byte blocks: {:>14.0} hashes/s; solver/openssl = {:.0}%", ossl, one / ossl * 100.0),
                None => println!("openssl not found: no comparison"),
            }
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: gatehouse-solve solve <salt> <difficulty> [--threads N] | l402 <challenge> WALLET [--max-sats N] | pay <bolt11> WALLET [--max-sats N] | bench [--seconds S]");
            ExitCode::from(2)
        }
    }
}
