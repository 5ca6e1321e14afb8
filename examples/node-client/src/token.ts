// The first seed document's TypeScript example, unchanged between the markers except for the
// function around its `jwt.sign` call: each (re)connection signs a fresh token, as the seed's
// tokens live 15 minutes.
import * as jwt from 'jsonwebtoken';

// --- seed example: begin ---
function normalizePrivateKey(privateKey: string): string {
  return privateKey.includes('\\n')
    ? privateKey.replace(/\\n/g, '\n')
    : privateKey;
}

export function signCustomerToken(): string {
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
  return token;
}
