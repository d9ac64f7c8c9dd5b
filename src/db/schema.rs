//! Diesel table definitions, shared by both backends (kept by hand to match `migrations/`).

diesel::table! {
    workspaces (id) {
        id -> Text,
        name -> Text,
        created_at -> Timestamp,
        min_group_size -> Integer,
        retention_days -> Nullable<Integer>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        workspace_id -> Text,
        key_hash -> Text,
        created_at -> Timestamp,
        delighted_survey_id -> Nullable<Text>,
    }
}

diesel::table! {
    response_annotations (response_id) {
        response_id -> Text,
        tags -> Text,
        notes -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    people (id) {
        id -> Text,
        workspace_id -> Text,
        email_key -> Text,
        email -> Text,
        name -> Nullable<Text>,
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
        email_subject -> Nullable<Text>,
        email_intro -> Nullable<Text>,
        email_sender_name -> Nullable<Text>,
        throttle_days -> Nullable<Integer>,
        segment_by -> Nullable<Text>,
        public_key -> Nullable<Text>,
        allowed_origins -> Text,
        widget_once_per_days -> Integer,
        widget_sample_percent -> Integer,
        brand_color -> Nullable<Text>,
        locale -> Text,
        send_delay_seconds -> Integer,
        anonymous -> Bool,
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
        recipient_key -> Nullable<Text>,
        status_reason -> Nullable<Text>,
        eligible_at -> Nullable<Timestamp>,
        send_at -> Nullable<Timestamp>,
        sent_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        unsubscribe_hash -> Nullable<Text>,
        opened_at -> Nullable<Timestamp>,
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
        auto_sent -> Bool,
    }
}

diesel::table! {
    response_events (id) {
        id -> Text,
        response_id -> Text,
        change -> Text,
        score -> Integer,
        comment -> Nullable<Text>,
        suspect -> Bool,
        at -> Timestamp,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        invitation_id -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        claimed_by -> Nullable<Text>,
        last_error -> Nullable<Text>,
        message_id -> Text,
        created_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        reminder -> Integer,
    }
}

diesel::table! {
    suppressions (workspace_id, email) {
        workspace_id -> Text,
        email -> Text,
        reason -> Text,
        detail -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (workspace_id, key_hash) {
        workspace_id -> Text,
        key_hash -> Text,
        request_hash -> Text,
        created_at -> Timestamp,
        invitation_id -> Text,
        outcome -> Text,
    }
}

diesel::table! {
    server_secrets (name) {
        name -> Text,
        value -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    rollup_days (survey_id, dim, at, value) {
        survey_id -> Text,
        dim -> Text,
        value -> Text,
        at -> Timestamp,
        issued -> BigInt,
        suspect -> BigInt,
        s0 -> BigInt,
        s1 -> BigInt,
        s2 -> BigInt,
        s3 -> BigInt,
        s4 -> BigInt,
        s5 -> BigInt,
        s6 -> BigInt,
        s7 -> BigInt,
        s8 -> BigInt,
        s9 -> BigInt,
        s10 -> BigInt,
        delivered -> BigInt,
        opened -> BigInt,
        commented -> BigInt,
    }
}

diesel::table! {
    rollup_hours (survey_id, dim, at, value) {
        survey_id -> Text,
        dim -> Text,
        value -> Text,
        at -> Timestamp,
        issued -> BigInt,
        suspect -> BigInt,
        s0 -> BigInt,
        s1 -> BigInt,
        s2 -> BigInt,
        s3 -> BigInt,
        s4 -> BigInt,
        s5 -> BigInt,
        s6 -> BigInt,
        s7 -> BigInt,
        s8 -> BigInt,
        s9 -> BigInt,
        s10 -> BigInt,
        delivered -> BigInt,
        opened -> BigInt,
        commented -> BigInt,
    }
}

diesel::table! {
    rollup_weeks (survey_id, dim, at, value) {
        survey_id -> Text,
        dim -> Text,
        value -> Text,
        at -> Timestamp,
        issued -> BigInt,
        suspect -> BigInt,
        s0 -> BigInt,
        s1 -> BigInt,
        s2 -> BigInt,
        s3 -> BigInt,
        s4 -> BigInt,
        s5 -> BigInt,
        s6 -> BigInt,
        s7 -> BigInt,
        s8 -> BigInt,
        s9 -> BigInt,
        s10 -> BigInt,
        delivered -> BigInt,
        opened -> BigInt,
        commented -> BigInt,
    }
}

diesel::table! {
    rollup_quarters (survey_id, dim, at, value) {
        survey_id -> Text,
        dim -> Text,
        value -> Text,
        at -> Timestamp,
        issued -> BigInt,
        suspect -> BigInt,
        s0 -> BigInt,
        s1 -> BigInt,
        s2 -> BigInt,
        s3 -> BigInt,
        s4 -> BigInt,
        s5 -> BigInt,
        s6 -> BigInt,
        s7 -> BigInt,
        s8 -> BigInt,
        s9 -> BigInt,
        s10 -> BigInt,
        delivered -> BigInt,
        opened -> BigInt,
        commented -> BigInt,
    }
}

diesel::table! {
    rollup_state (name) {
        name -> Text,
        done_at -> Timestamp,
    }
}

diesel::joinable!(api_keys -> workspaces (workspace_id));
diesel::joinable!(surveys -> workspaces (workspace_id));
diesel::joinable!(invitations -> surveys (survey_id));
diesel::table! {
    webhooks (id) {
        id -> Text,
        workspace_id -> Text,
        url -> Text,
        events -> Text,
        description -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_events (id) {
        id -> Text,
        workspace_id -> Text,
        kind -> Text,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        webhook_id -> Text,
        event_id -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        claimed_by -> Nullable<Text>,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_attempts (delivery_id, attempt) {
        delivery_id -> Text,
        attempt -> Integer,
        at -> Timestamp,
        status -> Nullable<Integer>,
        latency_ms -> Integer,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    challenges (id) {
        id -> Text,
        workspace_id -> Text,
        survey_id -> Text,
        response_id -> Text,
        invitation_id -> Text,
        status -> Text,
        reason -> Text,
        note -> Nullable<Text>,
        challenged_by -> Text,
        score -> Integer,
        created_at -> Timestamp,
        resolved_by -> Nullable<Text>,
        resolution_note -> Nullable<Text>,
        resolved_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    challenge_events (id) {
        id -> Text,
        challenge_id -> Text,
        action -> Text,
        actor -> Text,
        api_key_id -> Text,
        note -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::joinable!(webhook_deliveries -> webhook_events (event_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));
diesel::joinable!(invitation_properties -> invitations (invitation_id));
diesel::joinable!(responses -> invitations (invitation_id));
diesel::joinable!(outbox -> invitations (invitation_id));
diesel::joinable!(response_events -> responses (response_id));
diesel::joinable!(challenges -> responses (response_id));
diesel::joinable!(challenge_events -> challenges (challenge_id));

diesel::allow_tables_to_appear_in_same_query!(
    workspaces,
    api_keys,
    surveys,
    invitations,
    invitation_properties,
    responses,
    response_events,
    outbox,
    suppressions,
    idempotency_keys,
    server_secrets,
    rollup_days,
    rollup_hours,
    rollup_quarters,
    rollup_state,
    rollup_weeks,
    webhooks,
    webhook_events,
    webhook_deliveries,
    webhook_attempts,
    challenges,
    challenge_events,
    people,
    response_annotations,
    audiences,
    audience_members,
    campaigns,
    campaign_cycles,
    campaign_invitations,
    dashboards,
);

diesel::table! {
    audiences (id) {
        id -> Text,
        workspace_id -> Text,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    audience_members (audience_id, email_key) {
        audience_id -> Text,
        email_key -> Text,
        email -> Text,
        name -> Nullable<Text>,
        attributes -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    campaigns (id) {
        id -> Text,
        workspace_id -> Text,
        survey_id -> Text,
        audience_id -> Text,
        name -> Text,
        start_local -> Text,
        tz -> Text,
        every_days -> Nullable<Integer>,
        reminder_days -> Text,
        status -> Text,
        next_index -> Integer,
        next_cycle_at -> Nullable<Timestamp>,
        cycles -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    campaign_cycles (id) {
        id -> Text,
        campaign_id -> Text,
        number -> Integer,
        scheduled_at -> Timestamp,
        started_at -> Timestamp,
        issued_through -> Text,
        issuing_done -> Bool,
        cut_after -> Timestamp,
        cut_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    campaign_invitations (invitation_id) {
        invitation_id -> Text,
        cycle_id -> Text,
        reminders_sent -> Integer,
        next_reminder_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(audience_members -> audiences (audience_id));
diesel::joinable!(campaign_cycles -> campaigns (campaign_id));
diesel::joinable!(campaign_invitations -> campaign_cycles (cycle_id));
diesel::joinable!(campaign_invitations -> invitations (invitation_id));

diesel::table! {
    dashboards (id) {
        id -> Text,
        workspace_id -> Text,
        token_hash -> Text,
        name -> Text,
        survey_id -> Nullable<Text>,
        kind -> Text,
        scale -> Text,
        window_days -> Integer,
        bucket -> Text,
        tz -> Text,
        group_by -> Nullable<Text>,
        filters -> Text,
        show_comments -> Bool,
        allow_csv -> Bool,
        expires_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}
