//! A JSON body that may be left out entirely.
//!
//! poem-openapi requires a `Content-Type` for every declared body, so a
//! browser refreshing with only its cookie would have to send `{}`. This
//! extractor accepts no body at all — with no `Content-Type`, or with a
//! JSON one and zero bytes, which is what generated clients send for an
//! optional body left out — and otherwise behaves exactly like `Json<T>`
//! (same content-type check, same parse errors).

use poem::{FromRequest, Request, RequestBody};
use poem_openapi::error::{ContentTypeError, ParseRequestPayloadError};
use poem_openapi::payload::{Json, Payload};
use poem_openapi::registry::{MetaMediaType, MetaRequest, Registry};
use poem_openapi::types::{ParseFromJSON, ToJSON};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<'a, T: ParseFromJSON + ToJSON> ApiExtractor<'a> for OptionalJson<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <Json<T> as Payload>::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: <Json<T> as Payload>::CONTENT_TYPE,
                schema: <Json<T> as Payload>::schema_ref(),
            }],
            required: false,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        match request.content_type() {
            Some(content_type) if Json::<T>::check_content_type(content_type) => {
                let data = <Vec<u8> as FromRequest>::from_request(request, body).await?;
                if data.is_empty() {
                    return Ok(Self(None));
                }
                let value =
                    serde_json::from_slice(&data).map_err(|err| ParseRequestPayloadError {
                        reason: err.to_string(),
                    })?;
                let value =
                    T::parse_from_json(Some(value)).map_err(|err| ParseRequestPayloadError {
                        reason: err.into_message(),
                    })?;
                Ok(Self(Some(value)))
            }
            Some(content_type) => Err(ContentTypeError::NotSupported {
                content_type: content_type.to_owned(),
            }
            .into()),
            None => {
                let data = <Vec<u8> as FromRequest>::from_request(request, body).await?;
                if data.is_empty() {
                    Ok(Self(None))
                } else {
                    Err(ContentTypeError::ExpectContentType.into())
                }
            }
        }
    }
}
