/*
 * SEED, the Korean 128-bit block cipher (RFC 4269), for reading NPKI private keys in the
 * browser. Our own small implementation: node-forge has no SEED.
 *
 *   KdcisSeed.expandKey(key)             -> round keys (key: 16 bytes, Uint8Array)
 *   KdcisSeed.encryptBlock(rk, block)    -> Uint8Array(16)
 *   KdcisSeed.decryptBlock(rk, block)    -> Uint8Array(16)
 *   KdcisSeed.cbcDecrypt(key, iv, data)  -> Uint8Array (padding left on)
 *   KdcisSeed.cbcEncrypt(key, iv, data)  -> Uint8Array (data already padded)
 *   KdcisSeed.unpad(data)                -> Uint8Array without PKCS#7 padding, or null when
 *                                           the padding is wrong (a wrong password, mostly)
 *
 * Checked against the test vectors of RFC 4269 appendix B (tests/js/seed.test.mjs) and
 * against OpenSSL's SEED in every browser test (keys written by accounts/npki.py).
 * Plain ES5: a browser global (window.KdcisSeed) or a CommonJS module for node's tests.
 */
(function (root) {
  'use strict';

  // The two 8-bit S-boxes of RFC 4269 (S1, S2), as hex. The four 32-bit SS tables the
  // round function uses are built from them below, with the masks the RFC defines.
  var S1_HEX =
    'a985d6d3541dac255d43181e51fcca632844209de0e2c817a58f037bbb13d2ee' +
    '708c3fa832ddf674ec950b575c5bbd01241c739810ccf2d92ce772839bd186c9' +
    '6050a3eb0db69e4fb75ac678a612afd561c3b441527d8d081f9900190453f7e1' +
    'fd762f27b08b0eaba26e934d697c090abfeff3c58714fe64de2e4b1a06216b66' +
    '02f5928a0cb37ed07a4796e52680addfa13037ae36152238f4a7454c81e98497' +
    '35cbce3c7111c78975fbdaf8945982c4ff493967c0cfd7b80f8e4223916cdba4' +
    '34f148c26f3d2d40be3ebcc1aaba4e553bdc687f9cd84a5677a0ed46b52b65fa' +
    'e3b9b19f5ef9e6b231ea6d5fe4f0cd88163a58d462290733e81b0579906a2a9a';
  var S2_HEX =
    '38e82da6cfdeb3b8af6055c7446f6b5bc36233b529a0e2a7d39111061cbc364b' +
    'ef886ca817c416f4c245e1d63f3d8e98284ef63ea5f90ddfd82b667a272ff172' +
    '42d441c07367ac8bf7ad801fca2caa34d20beee95d9418f857ae08c513cd86b9' +
    'ff7dc131f58a6ab1d120d7022204687107db9d9961bee659dd5190dc9aa3abd0' +
    '810f471ae3ec8dbf967b5ca2a163234dc89e9c3a0c2eba6e9f5af292f34978cc' +
    '15fb70757f351003646dc674d5b4ea097619fe4012e0bd05fa01f02a5ea95643' +
    '8514899bb0e5487997fc1e82218c1b5f7754b21d254f0046ed5852eb7edac9fd' +
    '3095653cb6e4bb7c0e5039263284699337e724a4cb530a87d94c838fce3b4ab7';

  function bytesOfHex(hex) {
    var out = new Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) {
      out[i] = parseInt(hex.substr(i * 2, 2), 16);
    }
    return out;
  }

  var M0 = 0xfc, M1 = 0xf3, M2 = 0xcf, M3 = 0x3f;

  // SSk[x]: the S-box byte copied into the four bytes of a word under four masks
  // (most significant byte first), so that G is four look-ups and three XORs.
  function table(sbox, a, b, c, d) {
    var out = new Uint32Array(256);
    for (var x = 0; x < 256; x++) {
      var s = sbox[x];
      out[x] = (((s & a) << 24) | ((s & b) << 16) | ((s & c) << 8) | (s & d)) >>> 0;
    }
    return out;
  }

  var S1 = bytesOfHex(S1_HEX);
  var S2 = bytesOfHex(S2_HEX);
  var SS0 = table(S1, M3, M2, M1, M0);
  var SS1 = table(S2, M0, M3, M2, M1);
  var SS2 = table(S1, M1, M0, M3, M2);
  var SS3 = table(S2, M2, M1, M0, M3);

  // G(X), X = X3||X2||X1||X0 with X0 the least significant byte.
  function g(x) {
    return (SS0[x & 0xff] ^ SS1[(x >>> 8) & 0xff] ^ SS2[(x >>> 16) & 0xff] ^
      SS3[(x >>> 24) & 0xff]) >>> 0;
  }

  function wordAt(bytes, i) {
    return ((bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]) >>> 0;
  }

  function putWord(bytes, i, w) {
    bytes[i] = w >>> 24;
    bytes[i + 1] = (w >>> 16) & 0xff;
    bytes[i + 2] = (w >>> 8) & 0xff;
    bytes[i + 3] = w & 0xff;
  }

  // The key schedule: 16 rounds of two 32-bit subkeys. KC1 is the golden ratio's fraction,
  // each next constant that one rotated left by a bit.
  function expandKey(key) {
    if (!key || key.length !== 16) {
      throw new Error('SEED takes a 16-byte key');
    }
    var k0 = wordAt(key, 0), k1 = wordAt(key, 4), k2 = wordAt(key, 8), k3 = wordAt(key, 12);
    var rk = new Uint32Array(32);
    var kc = 0x9e3779b9;
    for (var i = 0; i < 16; i++) {
      rk[2 * i] = g((k0 + k2 - kc) >>> 0);
      rk[2 * i + 1] = g((k1 - k3 + kc) >>> 0);
      var t;
      if (i % 2 === 0) {
        // K0||K1 rotated right by 8 bits
        t = k0;
        k0 = ((k0 >>> 8) | (k1 << 24)) >>> 0;
        k1 = ((k1 >>> 8) | (t << 24)) >>> 0;
      } else {
        // K2||K3 rotated left by 8 bits
        t = k2;
        k2 = ((k2 << 8) | (k3 >>> 24)) >>> 0;
        k3 = ((k3 << 8) | (t >>> 24)) >>> 0;
      }
      kc = ((kc << 1) | (kc >>> 31)) >>> 0;
    }
    return rk;
  }

  // The 16-round Feistel network; `order` walks the round keys forwards (encryption) or
  // backwards (decryption).
  function crypt(rk, block, decrypt) {
    if (!block || block.length !== 16) {
      throw new Error('SEED works on 16-byte blocks');
    }
    var l0 = wordAt(block, 0), l1 = wordAt(block, 4);
    var r0 = wordAt(block, 8), r1 = wordAt(block, 12);
    for (var round = 0; round < 16; round++) {
      var i = decrypt ? 15 - round : round;
      // F(K, R): C' and D' of RFC 4269 section 2.
      var c = (r0 ^ rk[2 * i]) >>> 0;
      var d = (r1 ^ rk[2 * i + 1]) >>> 0;
      var t = g((c ^ d) >>> 0);
      var u = g((t + c) >>> 0);
      var dOut = g((u + t) >>> 0);
      var cOut = (dOut + u) >>> 0;
      var n0 = (l0 ^ cOut) >>> 0, n1 = (l1 ^ dOut) >>> 0;
      if (round < 15) {
        l0 = r0; l1 = r1; r0 = n0; r1 = n1;
      } else {
        l0 = n0; l1 = n1; // the last round does not swap the halves
      }
    }
    var out = new Uint8Array(16);
    putWord(out, 0, l0);
    putWord(out, 4, l1);
    putWord(out, 8, r0);
    putWord(out, 12, r1);
    return out;
  }

  function encryptBlock(rk, block) { return crypt(rk, block, false); }
  function decryptBlock(rk, block) { return crypt(rk, block, true); }

  function cbcDecrypt(key, iv, data) {
    if (!iv || iv.length !== 16) {
      throw new Error('SEED-CBC takes a 16-byte IV');
    }
    if (!data || data.length === 0 || data.length % 16 !== 0) {
      throw new Error('SEED-CBC data is not a whole number of blocks');
    }
    var rk = expandKey(key);
    var out = new Uint8Array(data.length);
    var previous = iv;
    for (var i = 0; i < data.length; i += 16) {
      var block = data.subarray ? data.subarray(i, i + 16) : data.slice(i, i + 16);
      var plain = decryptBlock(rk, block);
      for (var j = 0; j < 16; j++) {
        out[i + j] = plain[j] ^ previous[j];
      }
      previous = block;
    }
    return out;
  }

  function cbcEncrypt(key, iv, data) {
    if (!data || data.length % 16 !== 0) {
      throw new Error('SEED-CBC data is not a whole number of blocks');
    }
    var rk = expandKey(key);
    var out = new Uint8Array(data.length);
    var previous = iv;
    for (var i = 0; i < data.length; i += 16) {
      var block = new Uint8Array(16);
      for (var j = 0; j < 16; j++) {
        block[j] = data[i + j] ^ previous[j];
      }
      previous = encryptBlock(rk, block);
      out.set(previous, i);
    }
    return out;
  }

  function unpad(data) {
    var n = data.length ? data[data.length - 1] : 0;
    if (n < 1 || n > 16 || n > data.length) {
      return null;
    }
    for (var i = data.length - n; i < data.length; i++) {
      if (data[i] !== n) {
        return null;
      }
    }
    return data.subarray ? data.subarray(0, data.length - n) : data.slice(0, data.length - n);
  }

  var api = {
    expandKey: expandKey,
    encryptBlock: encryptBlock,
    decryptBlock: decryptBlock,
    cbcDecrypt: cbcDecrypt,
    cbcEncrypt: cbcEncrypt,
    unpad: unpad
  };

  if (typeof module === 'object' && module.exports) {
    module.exports = api;
  } else {
    root.KdcisSeed = api;
  }
})(typeof self !== 'undefined' ? self : this);
