DROP TABLE auth_failures;
DROP TABLE two_factors;
DROP TABLE verifications;
DROP TABLE sessions;
DROP TABLE accounts;
DROP TABLE users;
