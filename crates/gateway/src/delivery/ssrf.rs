//! The SSRF guard for partner URLs: the gateway POSTs to URLs its clients chose, from inside the
//! operator's network, so those URLs must not reach loopback, private, link-local (the cloud
//! metadata service at 169.254.169.254), CGNAT, multicast or reserved addresses.
//!
//! Why the check sits where it does:
//! - A hostname is checked on the address it **resolves to, at connect time**: [`guarded_client`]
//!   installs a resolver that drops refused addresses, so a name that resolves to a public address
//!   when a subscription is created and to 127.0.0.1 later (DNS rebinding) is still refused, and
//!   the connection goes to exactly the address that was checked.
//! - IP-literal hosts never reach a resolver, so [`check_url`] checks them (and the scheme); call it
//!   when a subscription is created (answer 422) and again before each POST.
//! - Redirects are not followed (a partner could redirect to an internal address) and proxies are
//!   not used (a proxy would resolve the name itself, out of the guard's sight).
//! - `delivery.allow_private_networks` lets an operator allow specific networks (for local tests,
//!   or a partner inside the same VPC); nothing else private is reachable.

use std::error::Error as StdError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::config::DeliverySettings;

/// Which addresses partner URLs may reach: public ones, plus the allow-listed networks.
#[derive(Debug, Clone)]
pub struct SsrfPolicy {
    allowed_networks: Vec<IpNet>,
}

/// Why a partner URL or address is refused, or the policy could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsrfError {
    /// A `delivery.allow_private_networks` entry is neither a CIDR nor an IP address.
    #[error(
        "invalid network `{value}` in `delivery.allow_private_networks`: expected a CIDR such as 10.0.0.0/8"
    )]
    InvalidNetwork {
        /// The entry as configured.
        value: String,
    },
    /// The URL's scheme is not `http` or `https`.
    #[error("URL scheme `{scheme}` is not allowed: use http or https")]
    UnsupportedScheme {
        /// The scheme found.
        scheme: String,
    },
    /// The URL has no host.
    #[error("the URL has no host")]
    MissingHost,
    /// The host is, or resolves only to, addresses the policy refuses.
    #[error(
        "host `{host}` is or resolves to a private, loopback, link-local or reserved address (ssrf_refused)"
    )]
    Refused {
        /// The host as written in the URL.
        host: String,
    },
    /// The host could not be resolved.
    #[error("host `{host}` could not be resolved: {reason}")]
    Unresolvable {
        /// The host as written in the URL.
        host: String,
        /// What the resolver said.
        reason: String,
    },
}

impl SsrfError {
    /// A stable `snake_case` code per variant.
    pub fn code(&self) -> &'static str {
        match self {
            SsrfError::InvalidNetwork { .. } => "invalid_allowed_network",
            SsrfError::UnsupportedScheme { .. } => "unsupported_url_scheme",
            SsrfError::MissingHost => "url_without_host",
            SsrfError::Refused { .. } => "ssrf_refused",
            SsrfError::Unresolvable { .. } => "host_unresolvable",
        }
    }

    /// The guard's error inside a request error (the resolver's errors reach callers wrapped in
    /// `reqwest::Error`), so a dispatcher can tell a refusal from a network failure.
    pub fn find_in<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a SsrfError> {
        let mut current: Option<&'a (dyn StdError + 'static)> = Some(error);
        while let Some(error) = current {
            if let Some(ssrf) = error.downcast_ref::<SsrfError>() {
                return Some(ssrf);
            }
            current = error.source();
        }
        None
    }
}

impl SsrfPolicy {
    /// The policy of `[delivery]`: `allow_private_networks` entries are CIDRs (`10.1.0.0/16`) or
    /// single addresses.
    pub fn from_settings(settings: &DeliverySettings) -> Result<SsrfPolicy, SsrfError> {
        SsrfPolicy::with_allowed_networks(&settings.allow_private_networks)
    }

    /// A policy allowing `networks` (CIDRs or single addresses) besides public addresses.
    pub fn with_allowed_networks(networks: &[String]) -> Result<SsrfPolicy, SsrfError> {
        let mut allowed_networks = Vec::with_capacity(networks.len());
        for value in networks {
            let trimmed = value.trim();
            let network = match trimmed.parse::<IpNet>() {
                Ok(network) => network,
                Err(_) => match trimmed.parse::<IpAddr>() {
                    Ok(address) => IpNet::from(address),
                    Err(_) => {
                        return Err(SsrfError::InvalidNetwork {
                            value: value.clone(),
                        });
                    }
                },
            };
            allowed_networks.push(network.trunc());
        }
        Ok(SsrfPolicy { allowed_networks })
    }

    /// Whether a connection to `ip` is allowed: any address in an allow-listed network, otherwise
    /// only public unicast addresses (IPv4-mapped and other IPv6 forms of IPv4 addresses are judged
    /// by the IPv4 address they carry).
    pub fn is_allowed(&self, ip: IpAddr) -> bool {
        if self.is_allow_listed(ip) {
            return true;
        }
        if let IpAddr::V6(v6) = ip
            && let Some(mapped) = v6.to_ipv4_mapped()
            && self.is_allow_listed(IpAddr::V4(mapped))
        {
            return true;
        }
        !is_refused(ip)
    }

    fn is_allow_listed(&self, ip: IpAddr) -> bool {
        self.allowed_networks
            .iter()
            .any(|network| network.contains(&ip))
    }
}

/// Checks what the resolver cannot: the scheme, and an IP-literal host (which is connected to
/// without resolution). Hostnames pass here and are checked by [`guarded_client`] at connect time.
pub fn check_url(url: &url::Url, policy: &SsrfPolicy) -> Result<(), SsrfError> {
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(SsrfError::UnsupportedScheme {
                scheme: other.to_owned(),
            });
        }
    }
    let address = match url.host() {
        None => return Err(SsrfError::MissingHost),
        Some(url::Host::Domain(domain)) => match domain.parse::<IpAddr>() {
            Ok(address) => address,
            Err(_) => return Ok(()),
        },
        Some(url::Host::Ipv4(address)) => IpAddr::V4(address),
        Some(url::Host::Ipv6(address)) => IpAddr::V6(address),
    };
    if policy.is_allowed(address) {
        return Ok(());
    }
    Err(SsrfError::Refused {
        host: url.host_str().unwrap_or_default().to_owned(),
    })
}

/// An HTTP client for partner URLs: hostnames resolve through the policy (refused addresses are
/// dropped; no address left is [`SsrfError::Refused`]), redirects are not followed, no proxy is
/// used, and every request times out after `timeout`. Connections are pooled: build one client
/// and share it.
pub fn guarded_client(
    policy: Arc<SsrfPolicy>,
    timeout: Duration,
) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver { policy }))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("paygate/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Resolves with the system resolver (through tokio) and keeps only allowed addresses.
struct GuardedResolver {
    policy: Arc<SsrfPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|error| SsrfError::Unresolvable {
                    host: host.clone(),
                    reason: error.to_string(),
                })?
                .collect();
            if resolved.is_empty() {
                return Err(Box::new(SsrfError::Unresolvable {
                    host,
                    reason: "no address".to_owned(),
                }) as Box<dyn StdError + Send + Sync>);
            }
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|address| policy.is_allowed(address.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(
                    Box::new(SsrfError::Refused { host }) as Box<dyn StdError + Send + Sync>
                );
            }
            let addresses: Addrs = Box::new(allowed.into_iter());
            Ok(addresses)
        })
    }
}

/// Whether `ip` is outside public unicast space.
fn is_refused(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_refused_v4(v4),
        IpAddr::V6(v6) => is_refused_v6(v6),
    }
}

/// IPv4 ranges that are not public unicast (RFC 6890 and friends).
const REFUSED_V4: [(u32, u8); 16] = [
    (0x0000_0000, 8),  // 0.0.0.0/8: "this network", including the unspecified address
    (0x0A00_0000, 8),  // 10.0.0.0/8: private
    (0x6440_0000, 10), // 100.64.0.0/10: carrier-grade NAT
    (0x7F00_0000, 8),  // 127.0.0.0/8: loopback
    (0xA9FE_0000, 16), // 169.254.0.0/16: link-local, cloud metadata (169.254.169.254)
    (0xAC10_0000, 12), // 172.16.0.0/12: private
    (0xC000_0000, 24), // 192.0.0.0/24: IETF protocol assignments
    (0xC000_0200, 24), // 192.0.2.0/24: documentation (TEST-NET-1)
    (0xC058_6300, 24), // 192.88.99.0/24: 6to4 relay anycast
    (0xC0A8_0000, 16), // 192.168.0.0/16: private
    (0xC612_0000, 15), // 198.18.0.0/15: benchmarking
    (0xC633_6400, 24), // 198.51.100.0/24: documentation (TEST-NET-2)
    (0xCB00_7100, 24), // 203.0.113.0/24: documentation (TEST-NET-3)
    (0xE000_0000, 4),  // 224.0.0.0/4: multicast
    (0xF000_0000, 4),  // 240.0.0.0/4: reserved, including broadcast 255.255.255.255
    (0xFFFF_FFFF, 32), // 255.255.255.255: limited broadcast (already in 240/4; named for clarity)
];

/// IPv6 ranges that are not public unicast. IPv6 forms carrying an IPv4 address are judged by it
/// in [`is_refused_v6`].
const REFUSED_V6: [(u128, u8); 13] = [
    (0, 96),                      // ::/96: unspecified, loopback, IPv4-compatible
    (0x0064_ff9b_0001 << 80, 48), // 64:ff9b:1::/48: local-use NAT64
    (0x0100 << 112, 64),          // 100::/64: discard-only
    (0x2001 << 112, 32),          // 2001::/32: Teredo
    (0x2001_0002 << 96, 48),      // 2001:2::/48: benchmarking
    (0x2001_0010 << 96, 28),      // 2001:10::/28: ORCHID (deprecated)
    (0x2001_0db8 << 96, 32),      // 2001:db8::/32: documentation
    (0x3fff << 112, 20),          // 3fff::/20: documentation
    (0xfc00 << 112, 7),           // fc00::/7: unique local (private)
    (0xfe80 << 112, 10),          // fe80::/10: link-local
    (0xfec0 << 112, 10),          // fec0::/10: site-local (deprecated)
    (0xff00 << 112, 8),           // ff00::/8: multicast
    (0x5f00 << 112, 16),          // 5f00::/16: SRv6 SIDs, never a host
];

fn is_refused_v4(ip: Ipv4Addr) -> bool {
    let bits = u32::from(ip);
    REFUSED_V4
        .iter()
        .any(|&(network, prefix)| in_prefix_v4(bits, network, prefix))
}

fn is_refused_v6(ip: Ipv6Addr) -> bool {
    if let Some(embedded) = embedded_ipv4(ip)
        && is_refused_v4(embedded)
    {
        return true;
    }
    let bits = u128::from(ip);
    REFUSED_V6
        .iter()
        .any(|&(network, prefix)| in_prefix_v6(bits, network, prefix))
}

/// The IPv4 address an IPv6 address stands for: IPv4-mapped (`::ffff:a.b.c.d`), NAT64
/// (`64:ff9b::a.b.c.d`) and 6to4 (`2002:aabb:ccdd::/48`). IPv4-compatible addresses (`::a.b.c.d`,
/// deprecated) are refused as a whole by `::/96`.
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let bytes = bits.to_be_bytes();
    if in_prefix_v6(bits, 0xffff << 32, 96) || in_prefix_v6(bits, 0x0064_ff9b << 96, 96) {
        return Some(Ipv4Addr::new(bytes[12], bytes[13], bytes[14], bytes[15]));
    }
    if in_prefix_v6(bits, 0x2002 << 112, 16) {
        return Some(Ipv4Addr::new(bytes[2], bytes[3], bytes[4], bytes[5]));
    }
    None
}

fn in_prefix_v4(address: u32, network: u32, prefix: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    address & mask == network & mask
}

fn in_prefix_v6(address: u128, network: u128, prefix: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    address & mask == network & mask
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::sync::Arc;
    use std::time::Duration;

    use crate::delivery::ssrf::{SsrfError, SsrfPolicy, check_url, guarded_client};

    fn default_policy() -> SsrfPolicy {
        SsrfPolicy::with_allowed_networks(&[]).unwrap()
    }

    fn allowing(networks: &[&str]) -> SsrfPolicy {
        let networks: Vec<String> = networks.iter().map(|n| (*n).to_owned()).collect();
        SsrfPolicy::with_allowed_networks(&networks).unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_refused_by_default() {
        let policy = default_policy();
        for address in [
            "127.0.0.1",
            "127.255.0.9",
            "10.0.0.1",
            "172.16.5.4",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "192.0.2.10",
            "198.51.100.7",
            "203.0.113.200",
            "198.18.0.1",
            "::",
            "::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "2001:0:4136:e378::1",
        ] {
            assert!(!policy.is_allowed(ip(address)), "{address} must be refused");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        let policy = default_policy();
        for address in [
            "93.184.215.14",
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(policy.is_allowed(ip(address)), "{address} must be allowed");
        }
    }

    #[test]
    fn an_allow_listed_network_is_reachable_and_nothing_else_private_is() {
        let policy = allowing(&["127.0.0.0/8"]);
        assert!(policy.is_allowed(ip("127.0.0.1")));
        assert!(policy.is_allowed(ip("::ffff:127.0.0.1")));
        assert!(!policy.is_allowed(ip("10.0.0.1")));
        assert!(!policy.is_allowed(ip("::1")));
        assert!(!policy.is_allowed(ip("169.254.169.254")));
    }

    #[test]
    fn a_single_address_may_be_allow_listed() {
        let policy = allowing(&["10.1.2.3", "fd00::/8"]);
        assert!(policy.is_allowed(ip("10.1.2.3")));
        assert!(!policy.is_allowed(ip("10.1.2.4")));
        assert!(policy.is_allowed(ip("fd00::5")));
    }

    #[test]
    fn an_invalid_allow_list_entry_is_named_in_the_error() {
        let error = SsrfPolicy::with_allowed_networks(&["10.0.0.0/8".into(), "10.0.0.0/33".into()])
            .unwrap_err();
        assert_eq!(
            error,
            SsrfError::InvalidNetwork {
                value: "10.0.0.0/33".into()
            }
        );
        assert!(error.to_string().contains("`10.0.0.0/33`"), "{error}");
        assert!(SsrfPolicy::with_allowed_networks(&["localhost".into()]).is_err());
    }

    #[test]
    fn urls_with_internal_ip_literals_are_refused_before_any_request() {
        let policy = default_policy();
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://[::1]/hook",
            "https://169.254.169.254/latest/meta-data/",
            "http://0x7f000001/hook",
            "http://2130706433/hook",
            "http://[::ffff:10.0.0.1]/hook",
            "http://10.0.0.1/",
        ] {
            let parsed = url::Url::parse(url).unwrap();
            let error = check_url(&parsed, &policy).unwrap_err();
            assert_eq!(error.code(), "ssrf_refused", "{url}");
        }
    }

    #[test]
    fn only_http_and_https_urls_are_accepted() {
        let policy = default_policy();
        for url in [
            "file:///etc/passwd",
            "gopher://example.com/",
            "ftp://example.com/",
        ] {
            let parsed = url::Url::parse(url).unwrap();
            assert_eq!(
                check_url(&parsed, &policy).unwrap_err().code(),
                "unsupported_url_scheme",
                "{url}"
            );
        }
        for url in ["https://partner.example/hooks", "http://93.184.215.14/x"] {
            check_url(&url::Url::parse(url).unwrap(), &policy).unwrap();
        }
    }

    #[test]
    fn the_refusal_names_the_host() {
        let parsed = url::Url::parse("http://169.254.169.254/").unwrap();
        let error = check_url(&parsed, &default_policy()).unwrap_err();
        assert!(error.to_string().contains("169.254.169.254"), "{error}");
    }

    async fn local_server() -> u16 {
        let router = axum::Router::new()
            .route("/hook", axum::routing::post(|| async { "received" }))
            .route(
                "/redirect",
                axum::routing::post(|| async {
                    axum::response::Redirect::temporary("http://localhost:1/elsewhere")
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, router).await });
        port
    }

    #[tokio::test]
    async fn a_hostname_resolving_to_loopback_is_refused_at_connect_time() {
        let port = local_server().await;
        let client = guarded_client(Arc::new(default_policy()), Duration::from_secs(5)).unwrap();
        let url = format!("http://localhost:{port}/hook");
        // The URL itself passes: its host is a name, which only the resolver can judge.
        check_url(&url::Url::parse(&url).unwrap(), &default_policy()).unwrap();

        let error = client.post(&url).body("{}").send().await.unwrap_err();

        let refusal = SsrfError::find_in(&error).expect("the guard's error in the chain");
        assert_eq!(
            refusal,
            &SsrfError::Refused {
                host: "localhost".into()
            }
        );
    }

    #[tokio::test]
    async fn a_hostname_in_an_allow_listed_network_is_reached() {
        let port = local_server().await;
        let client =
            guarded_client(Arc::new(allowing(&["127.0.0.0/8"])), Duration::from_secs(5)).unwrap();

        let response = client
            .post(format!("http://localhost:{port}/hook"))
            .body("{}")
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), reqwest::StatusCode::OK);
        assert_eq!(response.text().await.unwrap(), "received");
    }

    #[tokio::test]
    async fn redirects_are_returned_not_followed() {
        let port = local_server().await;
        let client =
            guarded_client(Arc::new(allowing(&["127.0.0.0/8"])), Duration::from_secs(5)).unwrap();

        let response = client
            .post(format!("http://localhost:{port}/redirect"))
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), reqwest::StatusCode::TEMPORARY_REDIRECT);
    }
}
