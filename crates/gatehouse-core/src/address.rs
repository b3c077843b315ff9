//! The rate key of a client known only by its address (`CF-Connecting-IP`).
//!
//! An IPv4 address is one key. An IPv6 holder is usually given a whole /64 (RFC 6177, RFC 7934),
//! and often much more, so keying by the full address would hand one holder 2^64 quotas: IPv6
//! addresses are aggregated to a configurable prefix, /64 by default. IPv4-mapped IPv6
//! (`::ffff:a.b.c.d`) is the IPv4 address it maps. A value that is no address at all shares one
//! key, so that garbage in the header cannot mint quotas either.

use std::net::{IpAddr, Ipv6Addr};

pub const DEFAULT_IPV6_PREFIX_BITS: u8 = 64;

/// `ip:<v4>`, `ip:<v6 network>/<bits>`, or `ip:unknown`.
pub fn address_key(raw: &str, ipv6_prefix_bits: u8) -> String {
    match raw.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => format!("ip:{v4}"),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("ip:{v4}"),
            None => {
                let bits = ipv6_prefix_bits.min(128);
                let mask = if bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(bits))
                };
                let network = Ipv6Addr::from(u128::from(v6) & mask);
                format!("ip:{network}/{bits}")
            }
        },
        Err(_) => "ip:unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ipv4_is_one_key_per_address() {
        assert_eq!(address_key("203.0.113.7", 64), "ip:203.0.113.7");
        assert_eq!(address_key("::ffff:203.0.113.7", 64), "ip:203.0.113.7");
    }

    #[test]
    fn ipv6_is_aggregated_to_the_prefix() {
        assert_eq!(
            address_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64),
            "ip:2001:db8:1:2::/64"
        );
        assert_eq!(
            address_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 48),
            "ip:2001:db8:1::/48"
        );
        assert_eq!(
            address_key("2001:db8::1", 128),
            "ip:2001:db8::1/128",
            "an operator may key by the full address"
        );
    }

    #[test]
    fn garbage_shares_one_key() {
        for raw in ["", "unknown", "1.2.3.4.5", "x".repeat(1000).as_str()] {
            assert_eq!(address_key(raw, 64), "ip:unknown");
        }
    }

    proptest! {
        #[test]
        fn every_address_in_a_slash_64_has_the_same_key(net in any::<u64>(), a in any::<u64>(), b in any::<u64>()) {
            let ip = |host: u64| Ipv6Addr::from((u128::from(net) << 64) | u128::from(host)).to_string();
            // Skip the IPv4-mapped range, which is keyed as IPv4 on purpose.
            prop_assume!(net != 0);
            prop_assert_eq!(address_key(&ip(a), 64), address_key(&ip(b), 64));
        }
    }
}
