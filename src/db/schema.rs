//! Diesel table definitions, shared by both backends (kept by hand to match `migrations/`).

diesel::table! {
    workspaces (id) {
        id -> Text,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        workspace_id -> Text,
        key_hash -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    surveys (id) {
        id -> Text,
        workspace_id -> Text,
        name -> Text,
        kind -> Text,
        scale -> Text,
        question -> Text,
        comment_prompt -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    invitations (id) {
        id -> Text,
        workspace_id -> Text,
        survey_id -> Text,
        token_hash -> Text,
        channel -> Text,
        status -> Text,
        recipient_email -> Nullable<Text>,
        recipient_name -> Nullable<Text>,
        recipient_external_id -> Nullable<Text>,
        expires_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    invitation_properties (invitation_id, key) {
        invitation_id -> Text,
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    responses (id) {
        id -> Text,
        invitation_id -> Text,
        survey_id -> Text,
        score -> Integer,
        comment -> Nullable<Text>,
        suspect -> Bool,
        suspect_reason -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        answer_count -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        score_changed_at -> Timestamp,
    }
}

diesel::joinable!(api_keys -> workspaces (workspace_id));
diesel::joinable!(surveys -> workspaces (workspace_id));
diesel::joinable!(invitations -> surveys (survey_id));
diesel::joinable!(invitation_properties -> invitations (invitation_id));
diesel::joinable!(responses -> invitations (invitation_id));

diesel::allow_tables_to_appear_in_same_query!(
    workspaces,
    api_keys,
    surveys,
    invitations,
    invitation_properties,
    responses,
);
