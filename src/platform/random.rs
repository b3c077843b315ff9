//! Random bytes from the runtime's CSPRNG (WebCrypto `crypto.getRandomValues`).

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]) -> Result<JsValue, JsValue>;
}

/// `None` only if the runtime refuses, which callers treat as a dependency failure.
pub fn bytes<const N: usize>() -> Option<[u8; N]> {
    let mut buf = [0u8; N];
    get_random_values(&mut buf).ok()?;
    Some(buf)
}
