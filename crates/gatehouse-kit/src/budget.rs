//! What the kit may spend: a cap per invoice and a cap in total, both low by default (the
//! gateway's default price is 3 sats). The amount is the invoice's own (`bolt11`), never a figure
//! a server puts beside it. Each payment is reserved against the total before it is made, so
//! payments made at the same time cannot together pass the total; a payment that fails keeps its
//! reservation, since a wallet's error does not prove that nothing was sent.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::bolt11::{amount_msat, AmountProblem};

pub const DEFAULT_MAX_SATS_PER_INVOICE: u64 = 10;
pub const DEFAULT_MAX_SATS_TOTAL: u64 = 100;

#[derive(Debug)]
pub struct Budget {
    per_invoice_msat: u64,
    total_msat: u64,
    reserved_msat: AtomicU64,
}

/// Why an invoice is not paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Unreadable(AmountProblem),
    OverInvoiceCap { msat: u64, cap_msat: u64 },
    OverTotal { msat: u64, left_msat: u64 },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreadable(p) => write!(f, "not paying: {p}"),
            Self::OverInvoiceCap { msat, cap_msat } => write!(
                f,
                "not paying: the invoice asks {msat} msat, above the cap of {cap_msat} msat per invoice"
            ),
            Self::OverTotal { msat, left_msat } => write!(
                f,
                "not paying: the invoice asks {msat} msat and only {left_msat} msat of the total cap is left"
            ),
        }
    }
}

impl Default for Budget {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_SATS_PER_INVOICE, DEFAULT_MAX_SATS_TOTAL)
    }
}

impl Budget {
    pub fn new(max_sats_per_invoice: u64, max_sats_total: u64) -> Self {
        Self {
            per_invoice_msat: max_sats_per_invoice.saturating_mul(1_000),
            total_msat: max_sats_total.saturating_mul(1_000),
            reserved_msat: AtomicU64::new(0),
        }
    }

    /// Reserves the invoice's amount, or says why it must not be paid. Returns the amount in
    /// millisatoshis.
    pub fn reserve(&self, invoice: &str) -> Result<u64, Refusal> {
        let msat = amount_msat(invoice).map_err(Refusal::Unreadable)?;
        if msat > self.per_invoice_msat {
            return Err(Refusal::OverInvoiceCap {
                msat,
                cap_msat: self.per_invoice_msat,
            });
        }
        self.reserved_msat
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |reserved| {
                reserved
                    .checked_add(msat)
                    .filter(|after| *after <= self.total_msat)
            })
            .map(|_| msat)
            .map_err(|reserved| Refusal::OverTotal {
                msat,
                left_msat: self.total_msat.saturating_sub(reserved),
            })
    }

    /// Millisatoshis reserved so far, paid or being paid.
    pub fn reserved_msat(&self) -> u64 {
        self.reserved_msat.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From BOLT 11's examples: `lnbc9678785340p` (967 878 534 msat) and `lnbc2500u` (250 000 sats).
    fn invoices() -> (String, String) {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../../docs/bolt11-vectors.json")).unwrap();
        let find = |msat: u64| {
            doc["vectors"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["msat"] == msat)
                .unwrap()["invoice"]
                .as_str()
                .unwrap()
                .to_string()
        };
        (find(967_878_534), find(250_000_000))
    }

    #[test]
    fn an_invoice_above_the_cap_per_invoice_is_refused_and_reserves_nothing() {
        let (_, big) = invoices();
        let budget = Budget::default();
        assert_eq!(
            budget.reserve(&big),
            Err(Refusal::OverInvoiceCap {
                msat: 250_000_000,
                cap_msat: 10_000
            })
        );
        assert_eq!(budget.reserved_msat(), 0);
    }

    #[test]
    fn the_total_cap_holds_across_invoices() {
        let (pico, _) = invoices();
        let budget = Budget::new(1_000_000, 2_000_000);
        assert_eq!(budget.reserve(&pico), Ok(967_878_534));
        assert_eq!(budget.reserve(&pico), Ok(967_878_534));
        assert_eq!(
            budget.reserve(&pico),
            Err(Refusal::OverTotal {
                msat: 967_878_534,
                left_msat: 2_000_000_000 - 2 * 967_878_534
            })
        );
        assert_eq!(budget.reserved_msat(), 2 * 967_878_534);
    }

    #[test]
    fn concurrent_reservations_never_pass_the_total() {
        let (pico, _) = invoices();
        let budget = Budget::new(1_000_000, 5_000_000);
        let granted = AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..4 {
                        if budget.reserve(&pico).is_ok() {
                            granted.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        assert_eq!(granted.load(Ordering::SeqCst), 5);
        assert!(budget.reserved_msat() <= 5_000_000_000);
    }

    #[test]
    fn an_invoice_without_an_amount_is_never_paid() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../../docs/bolt11-vectors.json")).unwrap();
        let any_amount = doc["vectors"][0]["invoice"].as_str().unwrap();
        assert_eq!(
            Budget::new(u64::MAX, u64::MAX).reserve(any_amount),
            Err(Refusal::Unreadable(AmountProblem::NoAmount))
        );
    }
}
