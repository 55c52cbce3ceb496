//! The visitor gives an email (and names) so a conversation can start.

use super::{with_current, with_engine};
use crate::state::Stage;
use talk_protocol::IdentifyRequest;

pub fn identify(request: IdentifyRequest) {
    let Some((generation, api, token, state, texts)) = with_engine(|engine| {
        let token = engine.session.as_ref().map(|s| s.session_token.clone());
        (
            engine.generation,
            engine.api.clone(),
            token,
            engine.state,
            engine.texts,
        )
    }) else {
        return;
    };
    let Some(token) = token else {
        state
            .identify_error
            .set(Some(texts.still_connecting.into()));
        return;
    };
    if state.identify_busy.get_untracked() {
        return;
    }
    state.identify_busy.set(true);
    state.identify_error.set(None);
    wasm_bindgen_futures::spawn_local(async move {
        let result = api.identify(&token, &request).await;
        with_current(generation, |engine| {
            let state = engine.state;
            state.identify_busy.set(false);
            match result {
                Ok(response) => {
                    state.person.set(Some(response.person));
                    state.stage.set(Stage::Chat);
                }
                Err(error) => state
                    .identify_error
                    .set(Some(crate::api::user_message(&error, texts))),
            }
        });
    });
}
