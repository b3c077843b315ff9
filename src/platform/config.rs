//! Loads the configuration once per isolate. `#[event(start)]` gets no `Env`, so the first
//! request of an isolate parses it and the result, good or bad, is cached for the isolate's life.

use std::cell::RefCell;
use std::rc::Rc;

use gatehouse_core::config::Config;
use gatehouse_core::wire::json_object::object;
use worker::{console_error, Env};

/// Names read as secrets; every other name is read as a plain variable.
const SECRETS: &[&str] = &[
    "TOKEN_SIGNING_KEYS",
    "ADMIN_SECRET",
    "ORIGIN_AUTH_VALUE",
    "L402_BACKEND_KEY",
    "L402_ROOT_KEY",
    "X402_FACILITATOR_AUTH",
];

thread_local! {
    static CONFIG: RefCell<Option<Option<Rc<Config>>>> = const { RefCell::new(None) };
}

/// The isolate's configuration, or `None` when it is invalid (the problems were logged once).
pub fn config(env: &Env) -> Option<Rc<Config>> {
    if let Some(cached) = CONFIG.with(|c| c.borrow().clone()) {
        return cached;
    }
    let lookup = |name: &str| -> Option<String> {
        if SECRETS.contains(&name) {
            env.secret(name).ok().map(|s| s.to_string())
        } else {
            env.var(name).ok().map(|v| v.to_string())
        }
    };
    let loaded = match Config::from_vars(&lookup) {
        Ok(cfg) => Some(Rc::new(cfg)),
        Err(problems) => {
            let report = object([
                ("event", "gateway_misconfigured".into()),
                ("problems", problems.into()),
            ]);
            console_error!("{report}");
            None
        }
    };
    CONFIG.with(|c| *c.borrow_mut() = Some(loaded.clone()));
    loaded
}
