-- The token signing key of a deployment that sets no ROSTER_TOKEN_KEY: made
-- by the first instance that starts, read by every other, so instances that
-- share this database verify each other's access tokens and a restart keeps
-- them valid. ROSTER_TOKEN_KEY is still the better choice (each start warns):
-- whoever can read this table can sign tokens.
CREATE TABLE generated_token_key (
    only_one   boolean PRIMARY KEY DEFAULT true CHECK (only_one),
    paserk     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
