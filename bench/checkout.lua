-- wrk script for bench/checkout.rs: the same sale as its reqwest tills
-- send (two distinct products drawn as ../shared/perf's anchor scripts
-- draw them, a fresh Idempotency-Key each), from a load generator in C,
-- like pgbench on the other sides. The bench sets KASIRGO_TOKEN and
-- KASIRGO_PRODUCTS (1000 spread, 3 hot); `done` prints the error count
-- and 400 latency quantiles (µs) for the bench to read.
local token = os.getenv("KASIRGO_TOKEN")
local products = tonumber(os.getenv("KASIRGO_PRODUCTS"))
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
  table.insert(threads, thread)
end

local function product(n)
  return string.format("00000000-0000-0000-0000-%012d", n)
end

local function key()
  local function hex(n)
    local t = {}
    for i = 1, n do t[i] = string.format("%x", math.random(0, 15)) end
    return table.concat(t)
  end
  return hex(8) .. "-" .. hex(4) .. "-4" .. hex(3) .. "-a" .. hex(3) .. "-" .. hex(12)
end

function init(args)
  math.randomseed(os.time() * 1000 + seed)
end

function request()
  local a = math.random(1, products - 1)
  local b = math.random(a + 1, products)
  local body = '{"items":[{"product_id":"' .. product(a) .. '","quantity":1},'
    .. '{"product_id":"' .. product(b) .. '","quantity":1}],'
    .. '"customer_name":"Budi","payment_method":"cash","paid_amount":"50000"}'
  return wrk.format("POST", "/api/transactions", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = key(),
  }, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("KASIRGO errors %d requests %d duration_us %d\n",
    e.connect + e.read + e.write + e.timeout + e.status, summary.requests, summary.duration))
  -- 400 quantiles (each of wrk's percentile calls scans its histogram
  -- once; walking every bucket with latency(i) takes minutes).
  for k = 1, 400 do
    io.write(string.format("KASIRGO quantile %d\n", latency:percentile((k - 0.5) / 4)))
  end
end
