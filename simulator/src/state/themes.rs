//! Themes: uniqueness rules, limits, deletion with usage checks, and logo references.

use serde::Serialize;
use uuid::Uuid;

use super::State;
use super::rooms::theme_not_found;
use crate::errors::ApiError;

/// A finalised logo: permanent storage key and public URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Logo {
    /// Storage key.
    pub key: String,
    /// Download URL.
    pub url: String,
}

/// A theme as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Theme {
    /// Theme id.
    pub id: Uuid,
    /// Owning application.
    pub application_id: String,
    /// Owning account.
    pub account_id: String,
    /// Name, unique per application.
    pub theme_name: String,
    /// `#rgb` or `#rrggbb`.
    pub main_color: String,
    /// Brand text.
    pub brand_text: String,
    /// Short URL segment, unique across the service.
    pub short_company_url: Option<String>,
    /// White logo.
    pub brand_image_white: Option<Logo>,
    /// Coloured logo.
    pub brand_image_colored: Option<Logo>,
    /// Favicon.
    pub branded_favicon: Option<Logo>,
}

/// A validated `POST /themes` body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateTheme {
    /// Name; generated when absent.
    pub theme_name: Option<String>,
    /// Main colour.
    pub main_color: String,
    /// Brand text.
    pub brand_text: String,
    /// Short URL segment.
    pub short_company_url: Option<String>,
}

#[cfg(test)]
impl CreateTheme {
    /// A theme with only the required fields.
    pub fn simple(main_color: &str, brand_text: &str) -> Self {
        Self {
            main_color: main_color.into(),
            brand_text: brand_text.into(),
            ..Self::default()
        }
    }
}

/// A validated `PATCH /themes/{id}` body (`update_details`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateTheme {
    /// New name.
    pub theme_name: Option<String>,
    /// New main colour.
    pub main_color: Option<String>,
    /// New brand text.
    pub brand_text: Option<String>,
    /// New short URL segment.
    pub short_company_url: Option<String>,
}

/// What still references a theme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThemeUsage {
    /// Rooms with this explicit theme.
    pub rooms: usize,
    /// Whether it is the application default.
    pub is_default: bool,
}

fn short_url_key(url: &str) -> String {
    url.to_ascii_lowercase()
}

impl State {
    /// The theme `id` if `app_id` owns it, else 404.
    pub(crate) fn owned_theme(&self, app_id: &str, id: Uuid) -> Result<&Theme, ApiError> {
        self.themes
            .get(&id)
            .filter(|t| t.application_id == app_id)
            .ok_or_else(|| theme_not_found(id))
    }

    /// `GET /themes/{id}`; `id` as given in the path.
    pub fn theme(&self, app_id: &str, id: &str) -> Result<&Theme, ApiError> {
        let uuid = Uuid::parse_str(id).map_err(|_| theme_not_found(id))?;
        self.owned_theme(app_id, uuid)
    }

    /// `GET /themes`: the application's themes in creation order.
    pub fn themes_of(&self, app_id: &str) -> Vec<Theme> {
        self.apps
            .get(app_id)
            .map(|app| {
                app.theme_ids
                    .iter()
                    .filter_map(|id| self.themes.get(id).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn name_taken(&self, app_id: &str, name: &str, except: Option<Uuid>) -> bool {
        self.themes
            .values()
            .any(|t| t.application_id == app_id && t.theme_name == name && Some(t.id) != except)
    }

    fn check_short_url(&self, url: Option<&str>, except: Option<Uuid>) -> Result<(), ApiError> {
        match url.and_then(|u| self.short_urls.get(&short_url_key(u))) {
            Some(owner) if Some(*owner) != except => Err(ApiError::Conflict(
                "short_company_url already exists".into(),
            )),
            _ => Ok(()),
        }
    }

    /// `POST /themes`.
    pub fn create_theme(&mut self, app_id: &str, req: CreateTheme) -> Result<Theme, ApiError> {
        let limit = self.behavior.theme_limit;
        let app = self.apps.get(app_id).ok_or(ApiError::Unauthorized)?;
        if limit.is_some_and(|limit| app.theme_ids.len() >= limit) {
            return Err(ApiError::Forbidden("exceeded maximum theme limit".into()));
        }
        let account_id = app.account_id.clone();
        let theme_name = match req.theme_name {
            Some(name) => {
                if self.name_taken(app_id, &name, None) {
                    return Err(ApiError::Conflict(
                        "theme_name already exists in application".into(),
                    ));
                }
                name
            }
            None => (1..)
                .map(|n| format!("Theme{n}"))
                .find(|name| !self.name_taken(app_id, name, None))
                .unwrap_or_else(|| Uuid::new_v4().to_string()),
        };
        self.check_short_url(req.short_company_url.as_deref(), None)?;
        let theme = Theme {
            id: Uuid::new_v4(),
            application_id: app_id.to_string(),
            account_id,
            theme_name,
            main_color: req.main_color,
            brand_text: req.brand_text,
            short_company_url: req.short_company_url,
            brand_image_white: None,
            brand_image_colored: None,
            branded_favicon: None,
        };
        if let Some(url) = &theme.short_company_url {
            self.short_urls.insert(short_url_key(url), theme.id);
        }
        self.app_mut(app_id)?.theme_ids.push(theme.id);
        self.themes.insert(theme.id, theme.clone());
        Ok(theme)
    }

    /// `PATCH /themes/{id}`.
    pub fn update_theme(
        &mut self,
        app_id: &str,
        id: &str,
        req: UpdateTheme,
    ) -> Result<Theme, ApiError> {
        let theme_id = self.theme(app_id, id)?.id;
        if let Some(name) = &req.theme_name
            && self.name_taken(app_id, name, Some(theme_id))
        {
            return Err(ApiError::Conflict(
                "theme_name already exists in application".into(),
            ));
        }
        self.check_short_url(req.short_company_url.as_deref(), Some(theme_id))?;
        if let Some(url) = &req.short_company_url {
            self.short_urls.retain(|_, owner| *owner != theme_id);
            self.short_urls.insert(short_url_key(url), theme_id);
        }
        let theme = self
            .themes
            .get_mut(&theme_id)
            .ok_or_else(|| theme_not_found(id))?;
        if let Some(name) = req.theme_name {
            theme.theme_name = name;
        }
        if let Some(color) = req.main_color {
            theme.main_color = color;
        }
        if let Some(text) = req.brand_text {
            theme.brand_text = text;
        }
        if let Some(url) = req.short_company_url {
            theme.short_company_url = Some(url);
        }
        Ok(theme.clone())
    }

    /// What references theme `id`.
    pub fn theme_usage(&self, app_id: &str, id: Uuid) -> ThemeUsage {
        let rooms = self
            .apps
            .get(app_id)
            .map(|app| {
                app.room_serials
                    .values()
                    .filter(|rid| self.rooms.get(rid).is_some_and(|r| r.theme_id == Some(id)))
                    .count()
            })
            .unwrap_or(0);
        let is_default = self
            .apps
            .get(app_id)
            .is_some_and(|app| app.default_theme_id == Some(id));
        ThemeUsage { rooms, is_default }
    }

    /// `DELETE /themes/{id}[?force=true]`.
    pub fn delete_theme(&mut self, app_id: &str, id: &str, force: bool) -> Result<(), ApiError> {
        let theme_id = self.theme(app_id, id)?.id;
        let usage = self.theme_usage(app_id, theme_id);
        if !force && (usage.rooms > 0 || usage.is_default) {
            let mut errors = Vec::new();
            if usage.rooms > 0 {
                let noun = if usage.rooms == 1 { "room" } else { "rooms" };
                errors.push(format!("Theme {theme_id} is used by {} {noun}", usage.rooms).into());
            }
            if usage.is_default {
                errors.push(
                    format!("Theme {theme_id} is the default theme of application {app_id}").into(),
                );
            }
            return Err(ApiError::BadRequest {
                message: "could not delete theme".into(),
                errors,
            });
        }
        for room in self.rooms.values_mut() {
            if room.theme_id == Some(theme_id) {
                room.theme_id = None;
            }
        }
        let app = self.app_mut(app_id)?;
        if app.default_theme_id == Some(theme_id) {
            app.default_theme_id = None;
        }
        app.theme_ids.retain(|t| *t != theme_id);
        self.short_urls.retain(|_, owner| *owner != theme_id);
        self.themes.remove(&theme_id);
        Ok(())
    }

    /// The theme a room displays: its own, else the application default.
    pub fn effective_theme(&self, app_id: &str, room_theme: Option<Uuid>) -> Option<&Theme> {
        room_theme
            .or_else(|| self.apps.get(app_id).and_then(|a| a.default_theme_id))
            .and_then(|id| self.themes.get(&id))
    }
}

#[cfg(test)]
mod tests {
    use super::super::rooms::CreateRoom;
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn names_unique_per_app_and_short_urls_unique_globally() {
        let mut state = state();
        let mut req = CreateTheme::simple("#fff", "B");
        req.theme_name = Some("Main".into());
        req.short_company_url = Some("acme".into());
        state.create_theme(APP, req.clone()).unwrap();
        let err = state.create_theme(APP, req.clone()).unwrap_err();
        assert_eq!(
            err.body()["message"],
            "theme_name already exists in application"
        );
        let err = state.create_theme(OTHER, req.clone()).unwrap_err();
        assert_eq!(err.body()["message"], "short_company_url already exists");
        req.short_company_url = Some("other".into());
        state.create_theme(OTHER, req).unwrap();
    }

    #[test]
    fn generated_names_and_limit() {
        let mut state = state();
        state.behavior.theme_limit = Some(2);
        let a = state
            .create_theme(APP, CreateTheme::simple("#fff", "B"))
            .unwrap();
        let b = state
            .create_theme(APP, CreateTheme::simple("#fff", "B"))
            .unwrap();
        assert_ne!(a.theme_name, b.theme_name);
        let err = state
            .create_theme(APP, CreateTheme::simple("#fff", "B"))
            .unwrap_err();
        assert_eq!(err.status().as_u16(), 403);
        assert_eq!(err.body()["message"], "exceeded maximum theme limit");
    }

    #[test]
    fn update_keeps_own_values_but_refuses_clashes() {
        let mut state = state();
        let mut req = CreateTheme::simple("#fff", "B");
        req.short_company_url = Some("acme".into());
        let a = state.create_theme(APP, req).unwrap();
        let b = state
            .create_theme(APP, CreateTheme::simple("#fff", "B"))
            .unwrap();
        let same = UpdateTheme {
            short_company_url: Some("ACME".into()),
            ..UpdateTheme::default()
        };
        state
            .update_theme(APP, &a.id.to_string(), same.clone())
            .unwrap();
        let err = state
            .update_theme(APP, &b.id.to_string(), same)
            .unwrap_err();
        assert_eq!(err.status().as_u16(), 409);
        let rename = UpdateTheme {
            theme_name: Some(a.theme_name.clone()),
            ..UpdateTheme::default()
        };
        assert!(state.update_theme(APP, &b.id.to_string(), rename).is_err());
    }

    #[test]
    fn delete_refuses_used_themes_unless_forced() {
        let mut state = state();
        let theme = state
            .create_theme(APP, CreateTheme::simple("#fff", "B"))
            .unwrap();
        let room = CreateRoom {
            display_name: "r".into(),
            theme_id: Some(theme.id),
            ..CreateRoom::default()
        };
        let room = state.create_room(APP, room, t0()).unwrap();
        state.set_default_theme(APP, theme.id).unwrap();
        let err = state
            .delete_theme(APP, &theme.id.to_string(), false)
            .unwrap_err();
        let body = err.body();
        assert_eq!(body["message"], "could not delete theme");
        assert_eq!(
            body["errors"][0],
            format!("Theme {} is used by 1 room", theme.id)
        );
        assert_eq!(body["errors"].as_array().unwrap().len(), 2);
        state
            .delete_theme(APP, &theme.id.to_string(), true)
            .unwrap();
        assert_eq!(
            state.room(APP, &room.id.to_string()).unwrap().theme_id,
            None
        );
        assert_eq!(state.application(APP).unwrap().default_theme_id, None);
        assert!(state.theme(APP, &theme.id.to_string()).is_err());
        // Its short URL and name are free again.
        assert!(state.themes_of(APP).is_empty());
    }
}
