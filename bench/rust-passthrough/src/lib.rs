//! The benchmark's second floor: the least a Rust Worker on the `worker` crate can do to forward
//! a request, so the bench separates what the platform's Rust glue costs from what Gatehouse adds.

use worker::{event, Context, Env, Fetch, Request, RequestInit, Response, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let url = req.url()?;
    let target = format!("{}{}", env.var("ORIGIN_URL")?, url.path());
    let mut init = RequestInit::new();
    init.with_method(req.method())
        .with_headers(req.headers().clone())
        .with_body(req.inner().body().map(Into::into));
    Fetch::Request(Request::new_with_init(&target, &init)?)
        .send()
        .await
}
