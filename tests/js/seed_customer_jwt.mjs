// Runs the seed's TypeScript example (seed_customer_jwt.ts, through seed_example.mjs) against the real
// `jsonwebtoken` package. The CUSTOMER_* variables come from the environment.
// Prints {"token": "..."}; with SEED_VARIANTS (a JSON list of CUSTOMER_* overrides) it runs the example
// once per variant and prints {"tokens": [...]}.
import { signSeedToken } from './seed_example.mjs';

if (process.env.SEED_VARIANTS) {
  console.log(JSON.stringify({ tokens: JSON.parse(process.env.SEED_VARIANTS).map(signSeedToken) }));
} else {
  console.log(JSON.stringify({ token: signSeedToken() }));
}
