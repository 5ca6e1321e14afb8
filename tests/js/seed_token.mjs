// The first seed document's token example (jsonwebtoken, RS256), unchanged apart from TypeScript
// annotations. Importing this module signs one token from the CUSTOMER_* environment variables, as the
// seed's backend would, and exports it. Used by sign_customer_jwt.mjs and socketio_seed_client.mjs;
// seed_customer_jwt.ts holds the same example in its original TypeScript.
import jwt from 'jsonwebtoken';  // the seed's `import * as jwt`: in plain ESM the CommonJS module is the default export

function normalizePrivateKey(privateKey) {
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

export { token };
