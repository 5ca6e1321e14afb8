// The first seed document's TypeScript example, unchanged (between the markers), plus one line that
// exports the token for the test. seed_example.mjs compiles it with the real `typescript` package and
// runs it against the real `jsonwebtoken` package, for every script that signs a customer token.
// --- seed example: begin ---
import * as jwt from 'jsonwebtoken';

function normalizePrivateKey(privateKey: string): string {
  return privateKey.includes('\\n')
    ? privateKey.replace(/\\n/g, '\n')
    : privateKey;
}

const token = jwt.sign(
  {
    type: 'customer',
    workspace_id: process.env.CUSTOMER_WORKSPACE_ID,
    product_space_code: process.env.CUSTOMER_PRODUCT_SPACE_CODE
  },
  normalizePrivateKey(process.env.CUSTOMER_JWT_PRIVATE_KEY || ''),
  {
    algorithm: 'RS256',
    keyid: process.env.CUSTOMER_SIGNING_KEY_ID,
    subject: process.env.CUSTOMER_UNIQUE_CUSTOMER_ID,
    expiresIn: process.env.CUSTOMER_JWT_EXPIRES_IN || '15m',
    jwtid: `customer-${process.env.CUSTOMER_UNIQUE_CUSTOMER_ID}-${Date.now()}`
  }
);
// --- seed example: end ---

export { token };
