use super::*;
use proptest::prelude::*;

const CALL: ControllerCall = ControllerCall {
    min: 12,
    base: 14,
    max: 18,
    target_ms: 8_000,
    interval_ms: 30_000,
};

/// A delta as the gateway records it: challenges issued, puzzles solved fast, and puzzles
/// solved slowly with whatever solve time their clients chose to show.
fn delta(issued: u64, fast: u64, slow: u64, slow_ms: u64) -> Delta {
    let mut d = Delta::default();
    d.count("challenges_issued", "main", "pow", issued);
    d.count("challenges_solved", "-", "pow", fast + slow);
    d.count(FAST_SOLVES, "-", "pow", fast);
    d.count("solve_ms_total", "-", "pow", slow.saturating_mul(slow_ms));
    d
}

#[test]
fn within_an_interval_the_difficulty_holds() {
    let mut c = Controller::default();
    assert_eq!(c.step(&CALL, &delta(100, 50, 0, 0), 1_000), 14);
    assert_eq!(c.step(&CALL, &delta(100, 50, 0, 0), 20_000), 14);
}

#[test]
fn fast_solving_under_load_raises_it_one_bit_per_interval() {
    let mut c = Controller::default();
    c.step(&CALL, &delta(0, 0, 0, 0), 1_000);
    // 60 challenges in 30 s, 60 of them solved within half the target: cheap work, heavy load.
    assert_eq!(c.step(&CALL, &delta(60, 60, 0, 0), 31_000), 15);
    assert_eq!(c.step(&CALL, &delta(60, 60, 0, 0), 61_000), 16);
    assert_eq!(c.bits(&CALL), 16);
}

#[test]
fn slow_redemptions_never_lower_it_below_base() {
    // The attack the second review made: every redemption some 17 s after its 402. Before, the
    // mean solve time (even capped at twice the target) lay above the threshold that lowered the
    // puzzle, and a new client's 16 bits became 12.
    let mut c = Controller::default();
    c.step(&CALL, &delta(0, 0, 0, 0), 1_000);
    for i in 1..20 {
        let bits = c.step(&CALL, &delta(50, 0, 50, 17_000), 1_000 + i * 30_000);
        assert_eq!(bits, 14, "interval {i}");
    }
    // Raised by load first, slow redemptions still cannot bring it down while the load lasts.
    let mut c = Controller::default();
    c.step(&CALL, &delta(0, 0, 0, 0), 1_000);
    c.step(&CALL, &delta(60, 60, 0, 0), 31_000);
    c.step(&CALL, &delta(60, 60, 0, 0), 61_000);
    for i in 3..10 {
        let bits = c.step(&CALL, &delta(60, 0, 600, 600_000), 1_000 + i * 30_000);
        assert_eq!(bits, 16);
    }
}

#[test]
fn a_changed_bound_clamps_the_remembered_difficulty() {
    let mut c = Controller::default();
    c.step(&CALL, &delta(0, 0, 0, 0), 1_000);
    c.step(&CALL, &delta(60, 60, 0, 0), 31_000);
    let tighter = ControllerCall { max: 14, ..CALL };
    assert_eq!(c.step(&tighter, &delta(0, 0, 0, 0), 32_000), 14);
    let higher_base = ControllerCall { base: 17, ..CALL };
    assert_eq!(c.step(&higher_base, &delta(0, 0, 0, 0), 33_000), 17);
}

#[test]
fn state_a_release_before_stored_is_read() {
    let old = r#"{"bits":15,"started_ms":5,"solved":3,"solve_ms_total":90000,"issued":7}"#;
    let c: Controller = serde_json::from_str(old).unwrap();
    assert_eq!((c.bits(&CALL), c.issued, c.fast), (15, 7, 0));
}

/// One step of what the whole population (honest or not) sends in a stretch of time.
#[derive(Debug, Clone)]
struct Step {
    dt_ms: u64,
    issued: u64,
    fast: u64,
    slow: u64,
    slow_ms: u64,
}

fn step() -> impl Strategy<Value = Step> {
    (
        0u64..45_000,
        0u64..300,
        0u64..300,
        0u64..2_000,
        0u64..10_000_000,
    )
        .prop_map(|(dt_ms, issued, fast, slow, slow_ms)| Step {
            dt_ms,
            issued,
            fast,
            slow,
            slow_ms,
        })
}

fn run(steps: &[Step]) -> Vec<u8> {
    let mut c = Controller::default();
    let mut now = 1_000;
    steps
        .iter()
        .map(|s| {
            now += s.dt_ms;
            c.step(&CALL, &delta(s.issued, s.fast, s.slow, s.slow_ms), now)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Bounds and pace: never outside `[base, max]`, never more than one bit per step (a step
    /// ends at most one interval), whatever the population sends.
    #[test]
    fn within_base_and_max_one_bit_at_a_time(steps in prop::collection::vec(step(), 1..80)) {
        let bits = run(&steps);
        prop_assert!(bits.iter().all(|b| (CALL.base..=CALL.max).contains(b)));
        let mut last = CALL.base;
        for b in bits {
            prop_assert!(b.abs_diff(last) <= 1);
            last = b;
        }
    }

    /// Slow solvers count for nothing: any number of slow redemptions, with any solve times
    /// shown, leave every difficulty served exactly as it was without them.
    #[test]
    fn slow_redemptions_change_nothing(steps in prop::collection::vec(step(), 1..80)) {
        let without: Vec<Step> = steps
            .iter()
            .map(|s| Step { slow: 0, slow_ms: 0, ..s.clone() })
            .collect();
        prop_assert_eq!(run(&steps), run(&without));
    }

    /// Nobody lowers anyone's price: k hostile identities adding challenges and solves of their
    /// own to an honest population's never make any difficulty served lower than the honest
    /// population alone would have been served.
    #[test]
    fn more_traffic_never_lowers_it(
        honest in prop::collection::vec(step(), 1..60),
        extra in prop::collection::vec((0u64..300, 0u64..300), 60),
    ) {
        let hostile: Vec<Step> = honest
            .iter()
            .zip(&extra)
            .map(|(s, (i, f))| Step { issued: s.issued + i, fast: s.fast + f, ..s.clone() })
            .collect();
        for (h, a) in run(&honest).into_iter().zip(run(&hostile)) {
            prop_assert!(a >= h, "honest {} hostile {}", h, a);
        }
    }

    /// Once the pressure stops, it comes back to base: at most one interval per bit above it.
    #[test]
    fn quiet_brings_it_back_to_base(steps in prop::collection::vec(step(), 1..60)) {
        let mut c = Controller::default();
        let mut now = 1_000;
        for s in &steps {
            now += s.dt_ms;
            c.step(&CALL, &delta(s.issued, s.fast, s.slow, s.slow_ms), now);
        }
        let mut bits = 0;
        for _ in 0..=(CALL.max - CALL.base) + 1 {
            now += CALL.interval_ms;
            bits = c.step(&CALL, &delta(0, 0, 0, 0), now);
        }
        prop_assert_eq!(bits, CALL.base);
    }
}
