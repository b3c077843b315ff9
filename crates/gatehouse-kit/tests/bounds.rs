//! The kit's reads against hostile wallet backends on 127.0.0.1: an answer far over the cap, an
//! answer whose body stalls after its headers, and one whose headers never come. Each payment
//! must fail well within a bound the test enforces itself, and the server must see the kit stop
//! reading long before the end of a large answer.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use gatehouse_kit::bounded::{Deadlines, MAX_BODY_BYTES};
use gatehouse_kit::budget::Budget;
use gatehouse_kit::lightning::Wallet;

/// What the test allows a payment to take before calling it hung.
const SETTLE: Duration = Duration::from_secs(10);
/// Bytes a server may have written to a client that stopped reading: what loopback buffers.
const BUFFERED: usize = 32 << 20;
const BIG: usize = 200 << 20;

/// How the hostile backend answers every request.
#[derive(Clone, Copy)]
enum Answer {
    /// Headers for a `BIG` body, then as much of it as the client takes.
    Huge,
    /// Headers and the start of a body, then nothing.
    StallBody,
    /// Nothing at all.
    StallHeaders,
}

/// A backend on 127.0.0.1 answering one connection as `answer` says; the receiver gets the body
/// bytes it wrote before the client went away.
fn hostile(answer: Answer) -> (String, mpsc::Receiver<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        read_request(&mut socket);
        let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {BIG}\r\n\r\n{{\"preimage\":\"");
        let written = match answer {
            Answer::Huge => {
                let _ = socket.write_all(head.as_bytes());
                let chunk = vec![b' '; 64 << 10];
                let mut written = 0;
                while written < BIG && socket.write_all(&chunk).is_ok() {
                    written += chunk.len();
                }
                written
            }
            Answer::StallBody | Answer::StallHeaders => {
                if matches!(answer, Answer::StallBody) {
                    let _ = socket.write_all(head.as_bytes());
                }
                // Hold the connection until the client closes it.
                let mut sink = [0u8; 1024];
                while socket.read(&mut sink).is_ok_and(|n| n > 0) {}
                0
            }
        };
        let _ = tx.send(written);
    });
    (url, rx)
}

/// Reads a request's headers and its `content-length` body.
fn read_request(socket: &mut TcpStream) {
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !seen.ends_with(b"\r\n\r\n") && socket.read(&mut byte).is_ok_and(|n| n == 1) {
        seen.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&seen).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let _ = socket.read_exact(&mut vec![0; length]);
}

/// An invoice the budget lets through (250 000 sats), from the shared vectors.
fn invoice() -> String {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../../../docs/bolt11-vectors.json")).unwrap();
    doc["vectors"][1]["invoice"].as_str().unwrap().to_string()
}

/// Pays through `wallet` on another thread; the error, or a failure if it has not settled in `SETTLE`.
fn pay(wallet: Wallet, deadlines: Deadlines) -> String {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(wallet.pay_within(&invoice(), &Budget::new(250_000, 250_000), &deadlines));
    });
    match rx.recv_timeout(SETTLE) {
        Ok(result) => result.expect_err("a hostile backend's answer is no payment"),
        Err(_) => panic!("the payment has not settled after {SETTLE:?}: hung"),
    }
}

const SHORT: Deadlines = Deadlines {
    connect: Duration::from_secs(2),
    answer: Duration::from_millis(300),
    body: Duration::from_millis(300),
};

#[test]
fn an_answer_over_the_cap_is_not_read_on() {
    for lnd in [false, true] {
        let (url, written) = hostile(Answer::Huge);
        let wallet = if lnd {
            Wallet::Lnd {
                url,
                macaroon_hex: "00".into(),
            }
        } else {
            Wallet::Lnbits {
                url,
                admin_key: "k".into(),
            }
        };
        let err = pay(wallet, Deadlines::default());
        assert!(
            err.contains(&format!("over {MAX_BODY_BYTES} bytes")),
            "{err}"
        );
        let written = written
            .recv_timeout(SETTLE)
            .expect("the kit closed the connection");
        assert!(
            written < BUFFERED,
            "{written} bytes written before the kit stopped"
        );
    }
}

#[test]
fn a_body_that_stalls_fails_at_its_deadline() {
    let (url, closed) = hostile(Answer::StallBody);
    let wallet = Wallet::Lnbits {
        url,
        admin_key: "k".into(),
    };
    let err = pay(wallet, SHORT);
    assert!(err.contains("not complete in time"), "{err}");
    closed
        .recv_timeout(SETTLE)
        .expect("the kit closed the connection");
}

#[test]
fn an_answer_that_never_comes_fails_at_its_deadline() {
    let (url, closed) = hostile(Answer::StallHeaders);
    let wallet = Wallet::Lnd {
        url,
        macaroon_hex: "00".into(),
    };
    let err = pay(wallet, SHORT);
    assert!(err.to_lowercase().contains("timeout"), "{err}");
    closed
        .recv_timeout(SETTLE)
        .expect("the kit closed the connection");
}
