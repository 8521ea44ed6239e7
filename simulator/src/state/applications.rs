//! Applications: tenants with their own rooms, themes, default theme and callback URLs.

use std::collections::BTreeMap;

use rand::Rng;
use serde::Serialize;
use uuid::Uuid;

use super::State;
use super::values::CallbackUrls;
use crate::errors::{ApiError, ControlError};

/// A Vonage application registered with the simulator.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Application {
    /// Application id (the JWT's `application_id`).
    pub id: String,
    /// Owning account id (API key).
    pub account_id: String,
    /// Default theme, set through `PATCH /applications`.
    pub default_theme_id: Option<Uuid>,
    /// Application-level callback URLs (fallback for rooms without their own).
    pub callback_urls: CallbackUrls,
    /// Room serials in creation order.
    #[serde(skip)]
    pub(crate) room_serials: BTreeMap<u64, Uuid>,
    /// Theme ids in creation order.
    #[serde(skip)]
    pub(crate) theme_ids: Vec<Uuid>,
    /// Rooms not yet expired.
    #[serde(skip)]
    pub(crate) active_rooms: usize,
}

impl State {
    /// Registers an application id.
    pub fn add_application(&mut self, id: String) -> Result<&Application, ControlError> {
        if self.apps.contains_key(&id) {
            return Err(ControlError::Conflict(format!(
                "application {id} already exists"
            )));
        }
        let account_id = format!("{:08x}", rand::rng().random::<u32>());
        let app = Application {
            id: id.clone(),
            account_id,
            default_theme_id: None,
            callback_urls: CallbackUrls::default(),
            room_serials: BTreeMap::new(),
            theme_ids: Vec::new(),
            active_rooms: 0,
        };
        Ok(self.apps.entry(id).or_insert(app))
    }

    /// The application with `id`.
    pub fn application(&self, id: &str) -> Option<&Application> {
        self.apps.get(id)
    }

    /// Every application id.
    pub fn application_ids(&self) -> Vec<String> {
        self.apps.keys().cloned().collect()
    }

    /// Replaces the application-level callback URLs.
    pub fn set_application_callbacks(
        &mut self,
        id: &str,
        urls: CallbackUrls,
    ) -> Result<(), ControlError> {
        let app = self
            .apps
            .get_mut(id)
            .ok_or_else(|| ControlError::NotFound(format!("application {id}")))?;
        app.callback_urls = urls;
        Ok(())
    }

    /// `PATCH /applications`: sets the default theme.
    pub fn set_default_theme(
        &mut self,
        app_id: &str,
        theme_id: Uuid,
    ) -> Result<Application, ApiError> {
        let owned = self
            .themes
            .get(&theme_id)
            .is_some_and(|t| t.application_id == app_id);
        if !owned {
            return Err(ApiError::bad_request(format!(
                "Failed to update application because theme id {theme_id} not found"
            )));
        }
        let app = self.app_mut(app_id)?;
        app.default_theme_id = Some(theme_id);
        Ok(app.clone())
    }

    pub(crate) fn app_mut(&mut self, app_id: &str) -> Result<&mut Application, ApiError> {
        // Authenticated requests always name a registered application.
        self.apps.get_mut(app_id).ok_or(ApiError::Unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::themes::CreateTheme;

    #[test]
    fn default_theme_must_belong_to_the_application() {
        let mut state = state();
        let theme = state
            .create_theme(OTHER, CreateTheme::simple("#fff", "Brand"))
            .unwrap();
        let err = state.set_default_theme(APP, theme.id).unwrap_err();
        assert_eq!(
            err.body()["message"],
            format!(
                "Failed to update application because theme id {} not found",
                theme.id
            )
        );
        let app = state.set_default_theme(OTHER, theme.id).unwrap();
        assert_eq!(app.default_theme_id, Some(theme.id));
    }

    #[test]
    fn duplicate_application_is_a_conflict() {
        let mut state = state();
        assert!(state.add_application(APP.to_string()).is_err());
        assert_eq!(state.application_ids().len(), 2);
    }
}
