//! [`resource`]: a path and the handler of each method it answers. Any other method gets 405 in the JSON error
//! shape with an `Allow` header naming the methods there are (RFC 9110), which actix-web's own resources leave out.

use actix_web::dev::{AppService, HttpServiceFactory};
use actix_web::http::header;
use actix_web::{FromRequest, Handler, Responder, ResponseError as _, web};

use crate::error::AppError;

/// The routes of one path, registered as an actix-web resource.
pub struct Resource {
    inner: actix_web::Resource,
    allow: Vec<&'static str>,
}

impl std::fmt::Debug for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resource").field("allow", &self.allow).finish_non_exhaustive()
    }
}

/// The path pattern a request was routed by (`/api/notes/{id}`), kept as the resource's data: the metrics label
/// it without walking the route table (and its regular expressions) a second time per request.
#[derive(Debug, Clone)]
pub struct RoutePattern(pub String);

/// The routes of `path`: add one per method with [`Resource::get`], [`Resource::post`], ...
pub fn resource(path: &str) -> Resource {
    Resource { inner: web::resource(path).app_data(RoutePattern(path.to_string())), allow: Vec::new() }
}

macro_rules! method {
    ($name:ident, $route:ident, $method:literal) => {
        #[doc = concat!("Answers ", $method, " with `handler`.")]
        #[must_use]
        pub fn $name<F, Args>(mut self, handler: F) -> Self
        where
            F: Handler<Args>,
            Args: FromRequest + 'static,
            F::Output: Responder + 'static,
        {
            self.allow.push($method);
            self.inner = self.inner.route(web::$route().to(handler));
            self
        }
    };
}

impl Resource {
    method!(get, get, "GET");
    method!(post, post, "POST");
    method!(patch, patch, "PATCH");
    method!(put, put, "PUT");
    method!(delete, delete, "DELETE");
}

impl HttpServiceFactory for Resource {
    fn register(self, config: &mut AppService) {
        let allow = self.allow.join(", ");
        let refuse = move || {
            let allow = allow.clone();
            async move {
                let mut response = AppError::MethodNotAllowed.error_response();
                if let Ok(value) = header::HeaderValue::from_str(&allow) {
                    response.headers_mut().insert(header::ALLOW, value);
                }
                response
            }
        };
        self.inner.default_service(web::to(refuse)).register(config);
    }
}
