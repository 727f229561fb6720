//! The providers compiled into this binary: the one list that names provider crates. Each entry is
//! a type implementing [`providers::Provider`]; from its description come its configuration
//! section and defaults ([`default_configs`]), its registration ([`register_all`]), the CLI's
//! `paygate providers`, the OpenAPI document's list and the `paygate_provider_info` metric.
//!
//! Adding a provider is one entry in the `catalog!` call below (and its crate as a dependency).

use std::sync::Arc;

use providers::{CredentialStore, Provider, ProviderDescription, ProviderRegistrar};

/// Defines [`descriptions`], [`default_configs`] and [`register_all`] over the listed providers.
macro_rules! catalog {
    ($($provider:path),+ $(,)?) => {
        /// What each compiled-in provider is, in the list's order.
        pub fn descriptions() -> Vec<ProviderDescription> {
            vec![$(<$provider as Provider>::describe()),+]
        }

        /// Registers, in the list's order, each provider whose `[providers.<name>]` section is
        /// present with `enabled = true`.
        pub fn register_all(
            figment: &figment::Figment,
            credentials: &Arc<dyn CredentialStore>,
            registrar: &mut dyn ProviderRegistrar,
        ) -> anyhow::Result<()> {
            $(register::<$provider>(figment, credentials, registrar)?;)+
            Ok(())
        }
    };
}

catalog![delbank::Delbank, dinie::Dinie, bacen_pix::BacenPix];

/// Each provider's documented defaults (TOML), layered under `config/default.toml`.
pub fn default_configs() -> Vec<&'static str> {
    descriptions()
        .into_iter()
        .map(|description| description.default_config)
        .collect()
}

/// The description of the provider named `name`.
pub fn describe(name: &str) -> Option<ProviderDescription> {
    descriptions()
        .into_iter()
        .find(|description| description.name.as_str() == name)
}

fn register<P: Provider>(
    figment: &figment::Figment,
    credentials: &Arc<dyn CredentialStore>,
    registrar: &mut dyn ProviderRegistrar,
) -> anyhow::Result<()> {
    let name = P::describe().name;
    let key = format!("providers.{name}");
    if !figment.contains(&key) {
        return Ok(());
    }
    let config = figment
        .extract_inner::<P::Config>(&key)
        .map_err(|error| anyhow::anyhow!("invalid configuration for `{key}`: {error}"))?;
    if P::enabled(&config) {
        P::register(config, credentials.clone(), registrar)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use crate::catalog::{default_configs, descriptions};

    #[test]
    fn names_are_unique_and_each_default_section_is_its_own() {
        let mut names = BTreeSet::new();
        for description in descriptions() {
            assert!(names.insert(description.name.to_string()));
            let table: toml::Table = toml::from_str(description.default_config)
                .unwrap_or_else(|error| panic!("{}: {error}", description.name));
            let sections: Vec<&String> = table.keys().collect();
            assert_eq!(sections, ["providers"], "{}", description.name);
            let providers = table["providers"].as_table().unwrap();
            let own: Vec<&String> = providers.keys().collect();
            assert_eq!(own, [&description.name.to_string()], "{}", description.name);
            assert_eq!(
                providers[description.name.as_str()]["enabled"].as_bool(),
                Some(false),
                "{}: a provider is off until configured",
                description.name
            );
        }
        assert_eq!(default_configs().len(), names.len());
    }
}
