//! The address ceiling (docs/PROTOCOL.md §2): under an unverified rate key, what one address
//! gets through the gate, whatever keys it sends. Asked before the quota, charged once a request
//! is admitted, and charged for every payment attempt.

use gatehouse_core::metering::quota::Check;
use gatehouse_core::policy::charge::call_count;
use gatehouse_core::wire::denial::Denial;

use super::caller::Caller;
use super::refuse::too_many;
use super::Pass;
use crate::objects::client_counter;

/// Under an unverified rate key: whatever keys one address sends, it gets this much in all.
/// Every call counts here, whatever it weighs (at least `cost`): rotating keys must not make
/// calls weighed at nothing, or payment attempts, unlimited from one address.
pub(super) fn address_ceiling(p: &Pass<'_>, caller: &Caller, cost: u32) -> Option<(String, Check)> {
    let address = caller.address.as_ref()?;
    let check = Check {
        counter: "ceiling".into(),
        policy: address.ceiling.clone(),
        cost: cost.max(call_count(&p.calls)),
    };
    Some((address.key.clone(), check))
}

/// Charges the address ceiling, or (`charge` false) asks whether it would take the charge: 429
/// when it would not.
pub(super) async fn at_address_ceiling(
    p: &Pass<'_>,
    ceiling: &(String, Check),
    charge: bool,
) -> Result<(), Denial> {
    let (key, check) = ceiling;
    let sent = if charge {
        check.clone()
    } else {
        check.asking()
    };
    let at = client_counter::check_quota(p.env, key, vec![sent], p.now_ms).await?;
    if at.decision.allowed {
        return Ok(());
    }
    Err(too_many(std::slice::from_ref(check), at.decision, p))
}

/// Every payment attempt is charged to the address ceiling, admitted or not: each can cost a
/// claim row and a facilitator call.
pub(super) async fn within_address_ceiling(
    p: &Pass<'_>,
    caller: &Caller,
    cost: u32,
) -> Result<(), Denial> {
    match address_ceiling(p, caller, cost) {
        Some(ceiling) => at_address_ceiling(p, &ceiling, true).await,
        None => Ok(()),
    }
}
