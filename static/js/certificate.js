/*
 * The certificate selection window (인증서 선택): certificate login, signup step 02 and
 * withdrawal all use it.
 *
 * It takes what a Korean user holds, in the browser only:
 *   - a folder (<input webkitdirectory>): the NPKI folder, one CA's folder or one
 *     certificate's folder, searched at any depth for signCert.der + signPri.key pairs;
 *   - the two files signCert.der + signPri.key (GPKI: <name>_sig.cer + <name>_sig.key);
 *   - a .p12/.pfx file.
 * Several certificates are listed as users know them (구분, 사용자, 만료일, 발급자; expired
 * ones marked and not selectable); the user picks one and types its password.
 *
 * signPri.key is a PKCS#8 EncryptedPrivateKeyInfo under SEED (our own static/js/seed.js,
 * loaded before this file): pbeWithSHA1AndSeed-CBC (1.2.410.200004.1.15) or PBES2 with
 * PBKDF2 and seedCBC (1.2.410.200004.1.4); AES/3DES keys go to node-forge (global `forge`,
 * /static/vendor/forge/forge.min.js). A .p12 whose key bag uses SEED is opened by forge
 * with our SEED step put in for that bag.
 *
 * The challenge is signed with RSASSA-PKCS1-v1_5 / SHA-256; only the certificate (base64
 * DER) and the signature (base64) are posted. The password and the private key never
 * leave the page; the password field is emptied before the form is posted.
 *
 *   KdcisCert.findCertificates(files) -> Promise<[candidate]>
 *   KdcisCert.signWith(candidate, password, challenge)
 *     -> Promise<{certificate, signature, subject}>; rejects with an Error whose `.code` is
 *        one of the MESSAGES keys and whose `.message` is Korean.
 *   KdcisCert.signChallenge(file, password, challenge): the same for one .p12 file.
 *   KdcisCert.wireDialog(root): wires a form[data-cert-form] (done on DOMContentLoaded).
 *
 * Plain ES2017, no build step, no inline script.
 */
(function () {
  'use strict';

  var MAX_FILE_BYTES = 1024 * 1024; // certificate and key files are a few KB
  var MAX_CANDIDATES = 100;

  var ACCEPTED = '사용할 수 있는 것은 NPKI 폴더(또는 그 안의 인증서 폴더), signCert.der와 signPri.key 두 파일, .p12·.pfx 파일입니다.';

  var MESSAGES = {
    wrong_password: '인증서 암호가 올바르지 않습니다. 암호를 확인한 뒤 다시 입력해 주세요.',
    no_key: '인증서 파일에 개인키가 없습니다. 개인키가 포함된 .p12·.pfx 파일이나 signCert.der와 signPri.key를 함께 선택해 주세요.',
    no_certificate: '인증서 파일에서 개인키와 짝이 맞는 인증서를 찾지 못했습니다. 다른 인증서를 선택해 주세요.',
    key_mismatch: 'signPri.key가 signCert.der의 개인키가 아닙니다. 같은 인증서 폴더에 있던 두 파일을 함께 선택해 주세요.',
    not_rsa: '지원하지 않는 방식(RSA가 아닌 키)의 인증서입니다. RSA 방식의 개인 인증서를 선택해 주세요.',
    bad_file: '인증서 파일을 읽을 수 없습니다. ' + ACCEPTED,
    bad_p12: '선택한 .p12·.pfx 파일을 읽을 수 없습니다(PKCS#12 형식이 아니거나 손상된 파일입니다). ' + ACCEPTED,
    bad_key_file: 'signPri.key를 읽을 수 없습니다(암호화된 개인키 형식이 아닙니다). ' + ACCEPTED,
    bad_cert_file: 'signCert.der를 읽을 수 없습니다(X.509 인증서 형식이 아닙니다). ' + ACCEPTED,
    unsupported: '개인키가 지원하지 않는 방식으로 암호화되어 있습니다. 지원하는 방식은 SEED(pbeWithSHA1AndSeed-CBC, PBES2-SEED), AES, 3DES입니다.',
    pem_file: '선택한 파일은 PEM(텍스트) 형식입니다. ' + ACCEPTED,
    only_certificate: '선택한 파일에는 인증서만 있고 개인키가 없습니다. signCert.der와 같은 폴더의 signPri.key를 함께 선택해 주세요.',
    only_key: '선택한 파일에는 개인키만 있습니다. signPri.key와 같은 폴더의 signCert.der를 함께 선택해 주세요.',
    none_found: '선택한 폴더에서 인증서를 찾지 못했습니다. NPKI 폴더나 그 안의 인증서 폴더(signCert.der와 signPri.key가 있는 폴더)를 선택해 주세요. ' + ACCEPTED,
    not_a_certificate: '선택한 파일은 인증서가 아닙니다. ' + ACCEPTED,
    no_file: '인증서 파일을 선택하거나 인증서 폴더를 선택해 주세요.',
    no_choice: '목록에서 사용할 인증서를 선택해 주세요.',
    expired: '만료된 인증서입니다. 유효한 인증서를 선택해 주세요.',
    no_password: '인증서 암호를 입력해 주세요.',
    no_challenge: '인증 요청 정보가 없습니다. 페이지를 새로고침한 뒤 다시 시도해 주세요.',
    no_forge: '인증서 처리 모듈을 불러오지 못했습니다. 페이지를 새로고침한 뒤 다시 시도해 주세요.',
    unknown: '인증서로 서명하지 못했습니다. 다시 시도해 주세요.'
  };

  var OID = {
    pbeSha1Seed: '1.2.410.200004.1.15',
    seedCbc: '1.2.410.200004.1.4',
    pbes2: '1.2.840.113549.1.5.13',
    pbkdf2: '1.2.840.113549.1.5.12',
    hmacSha1: '1.2.840.113549.2.7',
    hmacSha256: '1.2.840.113549.2.9',
    certificatePolicies: '2.5.29.32'
  };

  // 구분 in the list, by the first certificate policy OID: the labels come from the page
  // ({% certificate_policies %}), built from the table the server verifies with
  // (accounts/certificates.py). Display only: the server decides which classes it accepts.
  var POLICIES = (function () {
    var element = document.getElementById('cert-policies');
    try {
      return element ? JSON.parse(element.textContent) : {};
    } catch (error) {
      return {};
    }
  })();

  function certError(code, messageKey, cause) {
    var error = new Error(MESSAGES[messageKey || code] || MESSAGES.unknown);
    error.code = code;
    if (cause) {
      error.cause = cause;
    }
    return error;
  }

  function getForge() {
    var forge = window.forge;
    if (!forge || !forge.pkcs12 || !forge.asn1 || !forge.md || !forge.pki || !window.KdcisSeed) {
      throw certError('no_forge');
    }
    return forge;
  }

  // --- bytes ------------------------------------------------------------------------------

  function readFile(file) {
    if (typeof file.size === 'number' && (file.size === 0 || file.size > MAX_FILE_BYTES)) {
      return Promise.reject(certError('bad_file'));
    }
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () { resolve(toBinaryString(reader.result)); };
      reader.onerror = function () { reject(certError('bad_file', null, reader.error)); };
      reader.readAsArrayBuffer(file);
    });
  }

  function toBinaryString(buffer) {
    var bytes = new Uint8Array(buffer);
    var chunks = [];
    for (var i = 0; i < bytes.length; i += 0x8000) {
      chunks.push(String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000)));
    }
    return chunks.join('');
  }

  function toBytes(binary) {
    var out = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      out[i] = binary.charCodeAt(i) & 0xff;
    }
    return out;
  }

  function parseDer(forge, binary) {
    try {
      return forge.asn1.fromDer(binary);
    } catch (strictError) {
      // Some tools write BER (e.g. indefinite lengths): try again, leniently.
      return forge.asn1.fromDer(binary, { strict: false, parseAllBytes: false });
    }
  }

  // The password as NPKI software feeds it to PBKDF1/PBKDF2: the UTF-8 bytes of the typed
  // string (forge's binary-string form).
  function passwordBytes(forge, password) {
    return forge.util.encodeUtf8(password);
  }

  // --- finding the certificates in what was picked ----------------------------------------

  function baseName(path) {
    return path.slice(path.lastIndexOf('/') + 1);
  }

  function folderOf(file) {
    var path = file.webkitRelativePath || '';
    var cut = path.lastIndexOf('/');
    return cut < 0 ? '' : path.slice(0, cut);
  }

  // Groups the files by folder: a folder holding signCert.der and signPri.key is one
  // certificate, a .p12/.pfx file is one. kmCert/kmPri (key management) are left alone.
  function groupFiles(files) {
    var folders = {};
    var p12s = [];
    var strays = { cert: 0, key: 0, other: [] };
    for (var i = 0; i < files.length; i++) {
      var file = files[i];
      var name = baseName(file.name || '').toLowerCase();
      if (/\.(p12|pfx)$/.test(name)) {
        p12s.push(file);
        continue;
      }
      if (name === 'signcert.der' || name === 'signpri.key') {
        var folder = folderOf(file);
        folders[folder] = folders[folder] || {};
        folders[folder][name === 'signcert.der' ? 'cert' : 'key'] = file;
        continue;
      }
      // GPKI (public servants): <name>_sig.cer + <name>_sig.key side by side in one folder
      // (_env.* is the encryption pair, not for signing).
      var gpki = /^(.+)_sig\.(cer|key)$/.exec(name);
      if (gpki) {
        var slot = folderOf(file) + '/' + gpki[1];
        folders[slot] = folders[slot] || {};
        folders[slot][gpki[2] === 'cer' ? 'cert' : 'key'] = file;
        continue;
      }
      strays.other.push(file);
    }
    var pairs = [];
    Object.keys(folders).sort().forEach(function (folder) {
      var entry = folders[folder];
      if (entry.cert && entry.key) {
        pairs.push({ folder: folder, cert: entry.cert, key: entry.key });
      } else if (entry.cert) {
        strays.cert++;
      } else {
        strays.key++;
      }
    });
    return { pairs: pairs, p12s: p12s, strays: strays };
  }

  function decodeBmp(raw) {
    var text = '';
    for (var i = 0; i + 1 < raw.length; i += 2) {
      text += String.fromCharCode((raw.charCodeAt(i) << 8) | raw.charCodeAt(i + 1));
    }
    return text;
  }

  function fieldText(forge, field) {
    if (!field || typeof field.value !== 'string') {
      return '';
    }
    if (field.valueTagClass === forge.asn1.Type.BMPSTRING) {
      return decodeBmp(field.value);
    }
    try {
      // forge hands UTF8String values over as their UTF-8 bytes.
      return forge.util.decodeUtf8(field.value);
    } catch (error) {
      return field.value;
    }
  }

  function subjectCommonName(forge, cert) {
    return fieldText(forge, cert.subject.getField('CN'));
  }

  // The person's name in an NPKI CN: before '(' (홍길동()0010…, 박성용(park sungyong)…),
  // else before a '-' or '_' that starts the CA's serial (김재훈-5101640, 김흥재_0000033643);
  // a hyphen inside the name (JEAN-PIERRE DUPONT) stays.
  function personName(cn) {
    var paren = cn.indexOf('(');
    if (paren > 0) {
      return cn.slice(0, paren).trim();
    }
    return cn.replace(/[-_][0-9A-Za-z]*[0-9][0-9A-Za-z]*$/, '').trim() || cn;
  }

  function policyClass(forge, cert) {
    var ext = null;
    for (var i = 0; i < cert.extensions.length; i++) {
      if (cert.extensions[i].id === OID.certificatePolicies) {
        ext = cert.extensions[i];
      }
    }
    if (!ext) {
      return '';
    }
    try {
      var policies = forge.asn1.fromDer(ext.value);
      var first = forge.asn1.derToOid(policies.value[0].value[0].value);
      return POLICIES[first] || '';
    } catch (error) {
      return '';
    }
  }

  // yyyy-mm-dd in Asia/Seoul, the date printed on Korean certificates.
  function seoulDate(date) {
    var parts = new Intl.DateTimeFormat('en-CA', {
      timeZone: 'Asia/Seoul', year: 'numeric', month: '2-digit', day: '2-digit'
    }).formatToParts(date);
    var get = function (type) {
      return parts.filter(function (p) { return p.type === type; })[0].value;
    };
    return get('year') + '-' + get('month') + '-' + get('day');
  }

  function describeCertificate(forge, cert, now) {
    var issuer = fieldText(forge, cert.issuer.getField('O')) ||
      fieldText(forge, cert.issuer.getField('CN'));
    var kind = policyClass(forge, cert);
    return {
      kindLabel: kind || '기타',
      user: personName(subjectCommonName(forge, cert)),
      commonName: subjectCommonName(forge, cert),
      notAfter: cert.validity.notAfter,
      expires: seoulDate(cert.validity.notAfter),
      issuer: issuer,
      expired: cert.validity.notAfter.getTime() < now.getTime(),
      notYetValid: cert.validity.notBefore.getTime() > now.getTime()
    };
  }

  async function findCertificates(files, now) {
    var forge = getForge();
    now = now || new Date();
    var groups = groupFiles(Array.prototype.slice.call(files || []));
    var found = [];
    for (var i = 0; i < groups.pairs.length && found.length < MAX_CANDIDATES; i++) {
      var pair = groups.pairs[i];
      var candidate = { kind: 'npki', folder: pair.folder, certFile: pair.cert, keyFile: pair.key };
      try {
        candidate.certBinary = await readFile(pair.cert);
        candidate.cert = forge.pki.certificateFromAsn1(parseDer(forge, candidate.certBinary));
        Object.assign(candidate, describeCertificate(forge, candidate.cert, now));
      } catch (error) {
        // An EC/KCDSA certificate or a damaged file: listed, not selectable.
        candidate.unusable = /not RSA/i.test(String(error && error.message)) ? 'not_rsa' : 'bad_cert_file';
        candidate.kindLabel = '읽을 수 없는 인증서';
        candidate.user = baseName(pair.folder) || 'signCert.der';
        candidate.expires = '';
        candidate.issuer = '';
      }
      found.push(candidate);
    }
    for (var j = 0; j < groups.p12s.length && found.length < MAX_CANDIDATES; j++) {
      var file = groups.p12s[j];
      found.push({
        kind: 'p12', file: file, kindLabel: '인증서 파일(' + baseName(file.name).replace(/^.*\./, '.') + ')',
        user: baseName(file.name), expires: '암호 확인 후 표시', issuer: ''
      });
    }
    // Usable first, then the one that runs longest.
    found.sort(function (a, b) {
      var ua = a.unusable || a.expired ? 1 : 0;
      var ub = b.unusable || b.expired ? 1 : 0;
      if (ua !== ub) {
        return ua - ub;
      }
      return ((b.notAfter && b.notAfter.getTime()) || 0) - ((a.notAfter && a.notAfter.getTime()) || 0);
    });
    if (found.length === 0) {
      throw await explainNothingFound(forge, groups);
    }
    return found;
  }

  // Nothing usable: say what was picked and what we take.
  async function explainNothingFound(forge, groups) {
    if (groups.strays.cert) {
      return certError('only_certificate');
    }
    if (groups.strays.key) {
      return certError('only_key');
    }
    var others = groups.strays.other;
    var folderPicked = others.some(function (f) { return !!f.webkitRelativePath; });
    if (others.length === 1 && !folderPicked) {
      var binary;
      try {
        binary = await readFile(others[0]);
      } catch (error) {
        return certError('not_a_certificate');
      }
      if (/^-----BEGIN /.test(binary)) {
        return certError('pem_file');
      }
      try {
        var asn1 = parseDer(forge, binary);
        if (isEncryptedPrivateKeyInfo(forge, asn1)) {
          return certError('only_key');
        }
        forge.pki.certificateFromAsn1(asn1);
        return certError('only_certificate');
      } catch (error) {
        if (/not RSA/i.test(String(error && error.message))) {
          return certError('only_certificate');
        }
        return certError('not_a_certificate');
      }
    }
    return certError(folderPicked || others.length === 0 ? 'none_found' : 'not_a_certificate');
  }

  // --- signPri.key: PKCS#8 EncryptedPrivateKeyInfo ---------------------------------------

  function isEncryptedPrivateKeyInfo(forge, asn1) {
    var T = forge.asn1.Type;
    return !!(asn1 && asn1.type === T.SEQUENCE && asn1.value.length === 2 &&
      asn1.value[0].type === T.SEQUENCE && asn1.value[0].value[0] &&
      asn1.value[0].value[0].type === T.OID && asn1.value[1].type === T.OCTETSTRING);
  }

  function integer(forge, node) {
    return forge.util.createBuffer(node.value).getInt(node.value.length * 8);
  }

  function pbkdf1Sha1(forge, password, salt, iterations) {
    var block = password + salt;
    for (var i = 0; i < iterations; i++) {
      var md = forge.md.sha1.create();
      md.update(block);
      block = md.digest().getBytes();
    }
    return block;
  }

  // The key and IV of a SEED scheme, or null when the algorithm is not SEED.
  function seedKeyAndIv(forge, oid, params, password) {
    try {
      return seedKeyAndIvOf(forge, oid, params, password);
    } catch (error) {
      throw error.code ? error : certError('bad_key_file', null, error);
    }
  }

  function seedKeyAndIvOf(forge, oid, params, password) {
    var asn1 = forge.asn1;
    if (oid === OID.pbeSha1Seed) {
      // pbeWithSHA1AndSeed-CBC: PBKDF1-SHA1 → 20 bytes; key = DK[0:16],
      // IV = SHA-1(DK[16:20])[0:16].
      var salt = params.value[0].value;
      var iterations = integer(forge, params.value[1]);
      var dk = pbkdf1Sha1(forge, passwordBytes(forge, password), salt, iterations);
      var md = forge.md.sha1.create();
      md.update(dk.slice(16, 20));
      return { key: dk.slice(0, 16), iv: md.digest().getBytes().slice(0, 16) };
    }
    if (oid === OID.pbes2) {
      var kdf = params.value[0];
      var scheme = params.value[1];
      if (asn1.derToOid(scheme.value[0].value) !== OID.seedCbc) {
        return null; // AES, 3DES: forge's own PBES2
      }
      if (asn1.derToOid(kdf.value[0].value) !== OID.pbkdf2) {
        throw certError('unsupported');
      }
      var kdfParams = kdf.value[1].value;
      var pbkdfSalt = kdfParams[0].value;
      var count = integer(forge, kdfParams[1]);
      var prf = 'sha1';
      for (var i = 2; i < kdfParams.length; i++) {
        if (kdfParams[i].type === asn1.Type.SEQUENCE) {
          var prfOid = asn1.derToOid(kdfParams[i].value[0].value);
          if (prfOid === OID.hmacSha256) {
            prf = 'sha256';
          } else if (prfOid !== OID.hmacSha1) {
            throw certError('unsupported');
          }
        }
      }
      var iv = scheme.value[1].value;
      if (iv.length !== 16) {
        throw certError('bad_key_file');
      }
      var key = forge.pkcs5.pbkdf2(passwordBytes(forge, password), pbkdfSalt, count, 16,
        forge.md[prf].create());
      return { key: key, iv: iv };
    }
    return null;
  }

  function isSeedAlgorithm(forge, algorithm) {
    try {
      var oid = forge.asn1.derToOid(algorithm.value[0].value);
      if (oid === OID.pbeSha1Seed) {
        return true;
      }
      return oid === OID.pbes2 &&
        forge.asn1.derToOid(algorithm.value[1].value[1].value[0].value) === OID.seedCbc;
    } catch (error) {
      return false;
    }
  }

  // A cipher object shaped like forge's (update/finish/output) that SEED-CBC-decrypts and
  // strips the padding; finish() is false when the padding is wrong (a wrong password).
  function seedDecipher(forge, keyIv) {
    var chunks = [];
    var cipher = {
      output: null,
      update: function (buffer) { chunks.push(buffer.getBytes()); },
      finish: function () {
        var data = chunks.join('');
        if (data.length === 0 || data.length % 16 !== 0) {
          return false;
        }
        var plain = window.KdcisSeed.unpad(window.KdcisSeed.cbcDecrypt(
          toBytes(keyIv.key), toBytes(keyIv.iv), toBytes(data)));
        if (!plain) {
          return false;
        }
        cipher.output = forge.util.createBuffer(toBinaryString(plain));
        return true;
      }
    };
    return cipher;
  }

  // forge's pbe.getCipher with the two SEED schemes put in front (for the duration of `run`):
  // forge then opens SEED key files, SEED key bags and SEED-encrypted certificate bags
  // itself. The password is turned into its UTF-8 bytes here.
  function withSeed(forge, password, run) {
    var pbe = forge.pki.pbe;
    var getCipher = pbe.getCipher;
    pbe.getCipher = function (oid, params, pass) {
      var keyIv = seedKeyAndIv(forge, oid, params, password);
      return keyIv ? seedDecipher(forge, keyIv) : getCipher.call(this, oid, params, pass);
    };
    try {
      return run();
    } finally {
      pbe.getCipher = getCipher;
    }
  }

  function decryptKeyFile(forge, binary, password) {
    var epki;
    try {
      epki = parseDer(forge, binary);
    } catch (error) {
      throw certError('bad_key_file', null, error);
    }
    if (!isEncryptedPrivateKeyInfo(forge, epki)) {
      throw certError('bad_key_file');
    }
    var info;
    try {
      var oid = forge.asn1.derToOid(epki.value[0].value[0].value);
      info = withSeed(forge, password, function () {
        // forge's own PBES2 (AES, 3DES) takes the password bytes as given: UTF-8 them.
        return forge.pki.decryptPrivateKeyInfo(epki,
          oid === OID.pbes2 ? passwordBytes(forge, password) : password);
      });
    } catch (error) {
      if (error && error.code) {
        throw error;
      }
      // forge names a scheme it does not know; any other failure comes after the cipher:
      // plaintext that is no DER, a wrong password whose padding came out right by chance.
      throw /unsupported|not supported|unknown/i.test(String(error && error.message)) ?
        certError('unsupported', null, error) : certError('wrong_password', null, error);
    }
    if (!info) {
      throw certError('wrong_password');
    }
    try {
      return forge.pki.privateKeyFromAsn1(info);
    } catch (error) {
      // A key that decrypted to something that is not an RSA PrivateKeyInfo.
      throw /not RSA|OID is not RSA/i.test(String(error.message)) ?
        certError('not_rsa', null, error) : certError('wrong_password', null, error);
    }
  }

  // --- .p12 / .pfx ------------------------------------------------------------------------

  function isAscii(text) {
    return /^[\x00-\x7f]*$/.test(text);
  }

  function classifyP12Error(error) {
    if (error && error.code) {
      return error;
    }
    var text = String((error && error.message) || error);
    if (/not RSA|OID is not RSA/i.test(text)) {
      return certError('not_rsa', null, error);
    }
    if (/invalid password|wrong password|MAC could not be verified|Failed to decrypt|Unable to decrypt/i
        .test(text)) {
      return certError('wrong_password', null, error);
    }
    if (/unsupported/i.test(text)) {
      return certError('unsupported', null, error);
    }
    return certError('bad_p12', null, error);
  }

  function parseP12(forge, binary, password) {
    var asn1;
    try {
      asn1 = parseDer(forge, binary);
    } catch (error) {
      throw certError('bad_p12', null, error);
    }
    var pbe = forge.pki.pbe;
    var pbes2 = pbe.getCipherForPBES2;
    if (!isAscii(password)) {
      // PKCS#12 MACs and PBES1 keys take the password as BMPString (forge does that), but
      // PBES2/PBKDF2 (AES files written by OpenSSL 3) takes its UTF-8 bytes, which forge
      // does not do by itself: encode it for that call only.
      pbe.getCipherForPBES2 = function (oid, params, pass) {
        return pbes2.call(this, oid, params, passwordBytes(forge, pass));
      };
    }
    try {
      // Key bags and certificate bags under SEED (Korean certificate programs export
      // those) go through our SEED.
      return withSeed(forge, password, function () {
        return forge.pkcs12.pkcs12FromAsn1(asn1, false, password);
      });
    } catch (error) {
      throw classifyP12Error(error);
    } finally {
      pbe.getCipherForPBES2 = pbes2;
    }
  }

  function bagsOf(p12, bagType) {
    var found = p12.getBags({ bagType: bagType });
    return (found && found[bagType]) || [];
  }

  function isRsaKey(key) {
    return !!(key && key.n && key.e && key.d && typeof key.sign === 'function');
  }

  function sameRsaKey(publicKey, privateKey) {
    return !!(publicKey && publicKey.n && publicKey.e &&
      publicKey.n.equals(privateKey.n) && publicKey.e.equals(privateKey.e));
  }

  function pickKeyAndCertificate(forge, p12) {
    var oids = forge.pki.oids;
    var keyBags = bagsOf(p12, oids.pkcs8ShroudedKeyBag).concat(bagsOf(p12, oids.keyBag));
    if (keyBags.length === 0) {
      throw certError('no_key');
    }
    // forge leaves `key` null (and keeps `asn1`) for keys it cannot read: EC, DSA, KCDSA...
    var keys = keyBags.map(function (bag) { return bag.key; }).filter(isRsaKey);
    if (keys.length === 0) {
      throw certError('not_rsa');
    }
    var certBags = bagsOf(p12, oids.certBag);
    var certs = certBags.map(function (bag) { return bag.cert; }).filter(Boolean);
    for (var k = 0; k < keys.length; k++) {
      for (var c = 0; c < certs.length; c++) {
        if (sameRsaKey(certs[c].publicKey, keys[k])) {
          return { key: keys[k], cert: certs[c] };
        }
      }
    }
    if (certs.length === 0 && certBags.length > 0) {
      throw certError('not_rsa'); // only certificates forge cannot read (non-RSA keys)
    }
    throw certError('no_certificate');
  }

  // --- signing ----------------------------------------------------------------------------

  function sign(forge, pair, challenge) {
    var der;
    var signature;
    try {
      der = forge.asn1.toDer(forge.pki.certificateToAsn1(pair.cert)).getBytes();
      var md = forge.md.sha256.create();
      md.update(challenge, 'utf8');
      signature = pair.key.sign(md); // RSASSA-PKCS1-v1_5
    } catch (error) {
      throw certError('unknown', null, error);
    }
    return {
      // An NPKI certificate is posted byte for byte as its signCert.der holds it.
      certificate: forge.util.encode64(pair.certBinary || der),
      signature: forge.util.encode64(signature),
      subject: subjectCommonName(forge, pair.cert)
    };
  }

  async function signWith(candidate, password, challenge) {
    var forge = getForge();
    if (!candidate) {
      throw certError('no_file');
    }
    if (typeof challenge !== 'string' || challenge === '') {
      throw certError('no_challenge');
    }
    password = password == null ? '' : String(password);
    if (candidate.unusable) {
      throw certError(candidate.unusable);
    }
    if (candidate.kind === 'p12') {
      var p12 = parseP12(forge, await readFile(candidate.file), password);
      return sign(forge, pickKeyAndCertificate(forge, p12), challenge);
    }
    var key = decryptKeyFile(forge, await readFile(candidate.keyFile), password);
    if (!sameRsaKey(candidate.cert.publicKey, key)) {
      throw certError('key_mismatch');
    }
    return sign(forge, { key: key, cert: candidate.cert, certBinary: candidate.certBinary },
      challenge);
  }

  function signChallenge(file, password, challenge) {
    if (!file) {
      return Promise.reject(certError('no_file'));
    }
    return signWith({ kind: 'p12', file: file }, password, challenge);
  }

  // --- the form ---------------------------------------------------------------------------

  function find(root, name) {
    return root.querySelector('[' + name + ']');
  }

  function cell(row, text, header) {
    var td = document.createElement(header ? 'th' : 'td');
    if (header) {
      td.setAttribute('scope', 'row');
    }
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function wireDialog(root) {
    if (!root) {
      return null;
    }
    var form = root.tagName === 'FORM' ? root : root.querySelector('form') || root.closest('form');
    if (!form || form.getAttribute('data-cert-wired') === '1') {
      return form;
    }
    form.setAttribute('data-cert-wired', '1');
    var scope = root.tagName === 'FORM' ? form : root;

    var fileInput = find(scope, 'data-cert-file');
    var folderInput = find(scope, 'data-cert-folder');
    var passwordInput = find(scope, 'data-cert-password');
    var challengeInput = find(scope, 'data-cert-challenge');
    var certificateInput = find(scope, 'data-cert-certificate');
    var signatureInput = find(scope, 'data-cert-signature');
    var errorBox = find(scope, 'data-cert-error');
    var listBox = find(scope, 'data-cert-list');
    var listBody = listBox ? listBox.querySelector('tbody') : null;
    var listStatus = find(scope, 'data-cert-list-status');
    var busy = false;
    var candidates = [];
    var loading = null;

    if (errorBox && !errorBox.getAttribute('role')) {
      errorBox.setAttribute('role', 'alert');
    }

    function showError(message, focusOn) {
      if (errorBox) {
        errorBox.textContent = message;
        errorBox.hidden = false;
      } else {
        window.alert(message);
      }
      if (focusOn && typeof focusOn.focus === 'function') {
        focusOn.focus();
        if (focusOn === passwordInput && typeof passwordInput.select === 'function') {
          passwordInput.select();
        }
      }
    }

    function clearError() {
      if (errorBox) {
        errorBox.textContent = '';
        errorBox.hidden = true;
      }
    }

    function setBusy(value) {
      busy = value;
      form.setAttribute('aria-busy', value ? 'true' : 'false');
      var buttons = form.querySelectorAll('button[type="submit"], button:not([type]), input[type="submit"]');
      for (var i = 0; i < buttons.length; i++) {
        buttons[i].disabled = value;
      }
    }

    function radios() {
      return listBody ? Array.prototype.slice.call(listBody.querySelectorAll('input[type=radio]')) : [];
    }

    function render() {
      if (!listBox || !listBody) {
        return;
      }
      listBody.textContent = '';
      listBox.hidden = candidates.length === 0;
      var usable = candidates.filter(function (c) { return !c.unusable && !c.expired; });
      candidates.forEach(function (candidate, index) {
        var row = document.createElement('tr');
        var blocked = !!(candidate.unusable || candidate.expired);
        if (blocked) {
          row.className = 'cert-expired';
        }
        var pick = document.createElement('td');
        var radio = document.createElement('input');
        radio.type = 'radio';
        radio.name = 'cert-choice';
        radio.value = String(index);
        radio.id = 'cert-choice-' + index;
        radio.disabled = blocked;
        radio.checked = !blocked && usable.length === 1;
        var label = document.createElement('label');
        label.className = 'visually-hidden';
        label.setAttribute('for', radio.id);
        label.textContent = [candidate.user, candidate.kindLabel, candidate.expires,
          candidate.issuer, blocked ? (candidate.expired ? '만료' : '사용 불가') : '']
          .filter(Boolean).join(', ');
        pick.appendChild(radio);
        pick.appendChild(label);
        row.appendChild(pick);
        cell(row, candidate.kindLabel);
        cell(row, candidate.user, true);
        var expiry = cell(row, candidate.expires);
        if (candidate.expired) {
          var mark = document.createElement('span');
          mark.className = 'status status-expired';
          mark.textContent = '만료';
          expiry.appendChild(document.createTextNode(' '));
          expiry.appendChild(mark);
        }
        cell(row, candidate.issuer);
        row.addEventListener('click', function (event) {
          if (!radio.disabled && event.target !== radio) {
            radio.checked = true;
          }
        });
        listBody.appendChild(row);
      });
      if (listStatus) {
        listStatus.textContent = candidates.length ?
          '인증서 ' + candidates.length + '개를 찾았습니다.' + (usable.length > 1 ? ' 사용할 인증서를 선택해 주세요.' : '') : '';
      }
    }

    function load(input) {
      clearError();
      candidates = [];
      render();
      var files = input && input.files ? input.files : [];
      if (!files.length) {
        loading = null;
        return null;
      }
      // The other picker's choice no longer counts.
      var other = input === fileInput ? folderInput : fileInput;
      if (other) {
        other.value = '';
      }
      loading = findCertificates(files).then(function (found) {
        candidates = found;
        render();
        return found;
      }, function (error) {
        candidates = [];
        render();
        showError((error && error.code && error.message) || MESSAGES.unknown, input);
        return null;
      });
      return loading;
    }

    [fileInput, folderInput].forEach(function (input) {
      if (input) {
        input.addEventListener('change', function () { load(input); });
      }
    });

    function chosen() {
      var picked = radios().filter(function (r) { return r.checked; })[0];
      return picked ? candidates[Number(picked.value)] : null;
    }

    form.addEventListener('submit', async function (event) {
      event.preventDefault();
      if (busy) {
        return;
      }
      setBusy(true);
      clearError();
      if (loading) {
        await loading;
      }
      setBusy(false);
      if (!candidates.length) {
        if (errorBox && !errorBox.textContent) {
          showError(MESSAGES.no_file, fileInput);
        } else if (fileInput) {
          fileInput.focus();
        }
        return;
      }
      var candidate = chosen();
      if (!candidate) {
        var first = radios().filter(function (r) { return !r.disabled; })[0];
        showError(first ? MESSAGES.no_choice : MESSAGES.expired, first || fileInput);
        return;
      }
      if (passwordInput && passwordInput.value === '') {
        showError(MESSAGES.no_password, passwordInput);
        return;
      }
      setBusy(true);
      var result;
      try {
        result = await signWith(candidate, passwordInput ? passwordInput.value : '',
          challengeInput ? challengeInput.value : '');
      } catch (error) {
        setBusy(false);
        var code = error && error.code;
        var focusOn = code === 'wrong_password' ? passwordInput :
          (code === 'no_challenge' || code === 'no_forge') ? null : fileInput;
        showError((error && error.code && error.message) || MESSAGES.unknown, focusOn);
        return;
      }
      if (certificateInput) {
        certificateInput.value = result.certificate;
      }
      if (signatureInput) {
        signatureInput.value = result.signature;
      }
      // Never post the password, the files or the choice: only certificate and signature.
      if (passwordInput) {
        passwordInput.value = '';
      }
      [fileInput, folderInput].forEach(function (input) {
        if (input) {
          input.value = '';
        }
      });
      radios().forEach(function (r) { r.disabled = true; });
      form.dispatchEvent(new CustomEvent('kdcis:cert-signed', { detail: { subject: result.subject } }));
      // The prototype's submit(): a control named "submit" cannot shadow it, and it does
      // not fire this handler again.
      HTMLFormElement.prototype.submit.call(form);
    });

    // Coming back through the browser's back/forward cache: let the user try again.
    window.addEventListener('pageshow', function () {
      setBusy(false);
      candidates = [];
      render();
    });
    return form;
  }

  function wireAll() {
    var forms = document.querySelectorAll('form[data-cert-form]');
    for (var i = 0; i < forms.length; i++) {
      wireDialog(forms[i]);
    }
  }

  window.KdcisCert = {
    findCertificates: findCertificates,
    signWith: signWith,
    signChallenge: signChallenge,
    personName: personName,
    messages: MESSAGES
  };
  window.KdcisCert.wireDialog = wireDialog;

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', wireAll);
  } else {
    wireAll();
  }
})();
