// A storefront's first purchase, written against the types openapi-typescript generates from
// the live schema (`schema.d.ts`, made by tests/clients/test_typescript_client.py) with
// openapi-fetch. Type-checked with `tsc --strict`, then run with Node:
//
//   node dist/purchase.js http://127.0.0.1:8000
//
// Every step checks the status and the typed body; the first surprise exits with status 1.
import createClient from "openapi-fetch";

import type { components, paths } from "./schema.js";

type Schemas = components["schemas"];

const baseUrl = process.argv[2];
if (!baseUrl) {
  throw new Error("usage: node dist/purchase.js <base URL>");
}

const api = createClient<paths>({ baseUrl });

function check(condition: boolean, message: string): asserts condition {
  if (!condition) {
    throw new Error(message);
  }
}

function expectStatus(step: string, response: Response, status: number): void {
  check(response.status === status, `${step}: expected ${status}, got ${response.status}`);
  console.log(`${step}: ${response.status}`);
}

function bearer(token: string): { Authorization: string } {
  return { Authorization: `Bearer ${token}` };
}

async function main(): Promise<void> {
  const email = `ts-buyer-${Date.now()}@example.com`;
  const password = "a-long-and-unusual-passphrase";

  // Sign up, then log in (a new session).
  const signup = await api.POST("/api/v1/auth/signup", {
    body: { email, password, name: "TypeScript Buyer" },
  });
  expectStatus("signup", signup.response, 201);
  check(signup.data !== undefined, "signup: no body");
  const created: Schemas["AuthOutput"] = signup.data;
  check(created.user.email === email, "signup: another user");

  const login = await api.POST("/api/v1/auth/login", { body: { email, password } });
  expectStatus("login", login.response, 200);
  check(login.data !== undefined, "login: no body");
  const session: Schemas["AuthOutput"] = login.data;
  const signedIn = { headers: bearer(session.access) };

  // Search the catalog as a guest and pick an in-stock variant.
  const search = await api.GET("/api/v1/products", {
    params: { query: { search: "speaker", in_stock: true } },
  });
  expectStatus("search", search.response, 200);
  check(search.data !== undefined, "search: no body");
  const found: Schemas["PaginatedProductSummaryOutputList"] = search.data;
  const summary = found.results[0];
  check(summary !== undefined, "search: nothing found");
  const detail = await api.GET("/api/v1/products/{ident}", {
    params: { path: { ident: summary.slug } },
  });
  expectStatus("product", detail.response, 200);
  check(detail.data !== undefined, "product: no body");
  const product: Schemas["ProductDetailOutput"] = detail.data;
  const variant = product.variants.find((v) => v.available > 0);
  check(variant !== undefined, "product: no variant in stock");

  // A guest cart: the first cart response hands out the token.
  const guestAdd = await api.POST("/api/v1/cart/items", {
    body: { variant_id: variant.id, quantity: 1 },
  });
  expectStatus("guest cart", guestAdd.response, 201);
  const cartToken = guestAdd.response.headers.get("X-Cart-Token");
  check(cartToken !== null && cartToken !== "", "guest cart: no X-Cart-Token");
  check(guestAdd.data?.item_count === 1, "guest cart: not one unit");

  // Merge it into the signed-in user's cart.
  const merge = await api.POST("/api/v1/cart/merge", {
    params: { header: { "X-Cart-Token": cartToken } },
    ...signedIn,
  });
  expectStatus("merge", merge.response, 200);
  check(merge.data !== undefined, "merge: no body");
  const cart: Schemas["CartOutput"] = merge.data;
  check(cart.item_count === 1, `merge: ${cart.item_count} units in the user's cart`);

  // Review the checkout (priced by the server) and place the order with an Idempotency-Key.
  const review = await api.POST("/api/v1/checkout/review", { body: {}, ...signedIn });
  expectStatus("checkout review", review.response, 200);
  check(review.data !== undefined, "checkout review: no body");
  const quote: Schemas["CheckoutReviewOutput"] = review.data;
  check(quote.shops.length === 1, "checkout review: not one shop");
  check(Number(quote.total) > 0, `checkout review: total ${quote.total}`);

  const shippingAddress: Schemas["AddressRequest"] = {
    name: "TypeScript Buyer",
    line1: "1 Compiler Street",
    city: "Portland",
    postal_code: "97201",
    country: "US",
    phone: "+15035550100",
  };
  const idempotencyKey = `ts-order-${Date.now()}`;
  const place = () =>
    api.POST("/api/v1/orders", {
      body: { shipping_address: shippingAddress, payment_method: "cash_on_delivery" },
      params: { header: { "Idempotency-Key": idempotencyKey } },
      ...signedIn,
    });
  const placed = await place();
  expectStatus("order", placed.response, 201);
  check(placed.data !== undefined, "order: no body");
  const checkout: Schemas["CheckoutOutput"] = placed.data;
  check(checkout.total === quote.total, `order: total ${checkout.total} != ${quote.total}`);
  const order = checkout.orders[0];
  check(order !== undefined && checkout.orders.length === 1, "order: not one order");
  check(order.status === "pending", `order: status ${order.status}`);

  const replay = await place();
  expectStatus("order retried with the same Idempotency-Key", replay.response, 201);
  check(replay.response.headers.get("Idempotent-Replayed") === "true", "retry: not a replay");
  check(replay.data?.id === checkout.id, "retry: another checkout");

  // My orders, then cancel this one.
  const list = await api.GET("/api/v1/orders", signedIn);
  expectStatus("my orders", list.response, 200);
  check(list.data !== undefined, "my orders: no body");
  const mine: Schemas["PaginatedOrderOutputList"] = list.data;
  check(
    mine.results.some((o) => o.id === order.id),
    "my orders: the new order is missing",
  );

  const cancel = await api.POST("/api/v1/orders/{order_id}/cancel", {
    params: { path: { order_id: order.id } },
    body: { reason: "Changed my mind" },
    ...signedIn,
  });
  expectStatus("cancel", cancel.response, 200);
  check(cancel.data !== undefined, "cancel: no body");
  const cancelled: Schemas["OrderOutput"] = cancel.data;
  check(cancelled.status === "cancelled", `cancel: status ${cancelled.status}`);

  console.log(`purchase done: ${checkout.checkout_number}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
