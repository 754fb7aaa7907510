//! The services-and-roles part of the approver forms (inviting someone, changing their
//! access): every service the organisation may use as a checkbox, with its roles beneath.

use crate::directory::ServiceOffer;

/// (client id, role codes) for each ticked service, from the form's `service` values and its
/// `role` values (`client_id:code`); roles under unticked services are ignored.
pub fn chosen(services: &[String], roles: &[String]) -> Vec<(String, Vec<String>)> {
    services
        .iter()
        .map(|client_id| {
            let codes = roles
                .iter()
                .filter_map(|r| r.split_once(':'))
                .filter(|(c, _)| c == client_id)
                .map(|(_, code)| code.to_owned())
                .collect();
            (client_id.clone(), codes)
        })
        .collect()
}

/// One role checkbox.
#[derive(Debug, Clone)]
pub struct RoleChoice {
    pub value: String,
    pub name: String,
    pub checked: bool,
}

/// One service checkbox with its roles.
#[derive(Debug, Clone)]
pub struct ServiceChoice {
    pub client_id: String,
    pub name: String,
    pub checked: bool,
    pub roles: Vec<RoleChoice>,
}

/// The checkboxes for `offers`, ticked as in `chosen`.
pub fn choices(offers: &[ServiceOffer], chosen: &[(String, Vec<String>)]) -> Vec<ServiceChoice> {
    offers
        .iter()
        .map(|offer| {
            let held = chosen.iter().find(|(c, _)| *c == offer.client_id);
            ServiceChoice {
                client_id: offer.client_id.clone(),
                name: offer.name.clone(),
                checked: held.is_some(),
                roles: offer
                    .roles
                    .iter()
                    .map(|r| RoleChoice {
                        value: format!("{}:{}", offer.client_id, r.code),
                        name: r.name.clone(),
                        checked: held.is_some_and(|(_, codes)| codes.contains(&r.code)),
                    })
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_count_only_under_their_ticked_service() {
        let services = vec!["census".to_owned()];
        let roles = ["census:submitter", "other:admin", "junk"].map(String::from);
        assert_eq!(
            chosen(&services, &roles),
            vec![("census".to_owned(), vec!["submitter".to_owned()])]
        );
    }
}
