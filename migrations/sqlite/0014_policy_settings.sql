-- Policy settings an administrator changed in the console (/manage/policy): password
-- lengths, the lock after failed sign-ins, link lifetimes, when unused accounts are
-- deactivated. A missing row means PRODUCT.md's default; the range each may take is
-- enforced by `src/policy/settings.rs`, which brings any hand-edited value back inside it.
CREATE TABLE policy_settings (
    name        TEXT    PRIMARY KEY,
    value       BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

-- `gatehouse user deactivate-unused` finds accounts whose last use (last sign-in, else
-- activation, else creation) is older than the policy allows, without reading every account.
CREATE INDEX users_last_used ON users (status, (COALESCE(last_sign_in_at, activated_at, created_at)));
