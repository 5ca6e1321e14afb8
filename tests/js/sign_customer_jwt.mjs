// Sign a customer JWT exactly as the first seed document's TypeScript example does (jsonwebtoken, RS256).
//
// Usage:   node sign_customer_jwt.mjs [ENV_FILE]
// Input:   the seed's CUSTOMER_* variables, from the environment:
//            CUSTOMER_JWT_PRIVATE_KEY      PEM; literal "\n" escapes are turned into newlines (normalizePrivateKey)
//            CUSTOMER_SIGNING_KEY_ID       kid header
//            CUSTOMER_UNIQUE_CUSTOMER_ID   sub claim
//            CUSTOMER_WORKSPACE_ID         workspace_id claim
//            CUSTOMER_PRODUCT_SPACE_CODE   product_space_code claim
//            CUSTOMER_JWT_EXPIRES_IN       optional, default "15m"
//          ENV_FILE, when given, is a .env file (e.g. the block `manage.py createsigningkey` prints) loaded
//          first with process.loadEnvFile; variables already in the environment win.
// Output:  one JSON line on stdout, {"token": "<jwt>"}. Any error: a message on stderr, exit status 1.
// The seed's example (seed_example.mjs) reads the CUSTOMER_* variables when it signs, below.
import { signSeedToken } from './seed_example.mjs';

if (process.argv[2]) {
  process.loadEnvFile(process.argv[2]);
}

console.log(JSON.stringify({ token: signSeedToken() }));
