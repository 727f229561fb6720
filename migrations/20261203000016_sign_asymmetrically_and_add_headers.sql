-- What partners choose per subscription.
--
-- signature_scheme: Standard Webhooks `v1` (HMAC-SHA256 with the shared `whsec_` secret) or `v1a`
-- (Ed25519). For `v1a`, `secret` and `previous_secret` hold the sealed `whsk_` signing keys and
-- `public_key` / `previous_public_key` the `whpk_` keys partners verify with (public: stored as
-- they are, shown on every read). During a rotation's grace period both keys sign.
--
-- headers: static headers added to every delivery (partners behind gateways that want one), a
-- sealed JSON object: their values are often credentials. Null when there are none.
alter table subscription
    add column signature_scheme text not null default 'v1'
        constraint subscription_signature_scheme_check check (signature_scheme in ('v1', 'v1a')),
    add column public_key text,
    add column previous_public_key text,
    add column headers text,
    add constraint subscription_v1a_has_public_key check (signature_scheme = 'v1' or public_key is not null);
