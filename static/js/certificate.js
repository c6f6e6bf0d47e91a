/*
 * Certificate login/signup in the browser.
 *
 * Opens the user's .p12/.pfx with node-forge (global `forge`, served as
 * /static/vendor/forge/forge.min.js and loaded before this file), signs the server's one-time
 * challenge with RSASSA-PKCS1-v1_5 / SHA-256 and fills two hidden fields: the certificate
 * (base64 DER) and the signature (base64). The password and the private key never leave the
 * page; the password field is emptied before the form is posted.
 *
 *   KdcisCert.signChallenge(file, password, challenge)
 *     -> Promise<{certificate, signature, subject}>; rejects with an Error whose `.code` is
 *        'wrong_password', 'no_key', 'no_certificate', 'not_rsa', 'bad_file' (or 'no_file',
 *        'no_challenge', 'no_forge') and whose `.message` is Korean.
 *   KdcisCert.wireDialog(root)
 *     wires a form (or the form inside `root`) by its data attributes; every
 *     form[data-cert-form] is wired on DOMContentLoaded.
 *
 * Plain ES2017, no build step, no inline script.
 */
(function () {
  'use strict';

  var MAX_FILE_BYTES = 1024 * 1024; // personal certificate files are a few KB

  var MESSAGES = {
    wrong_password: '인증서 암호가 올바르지 않습니다. 암호를 확인한 뒤 다시 입력해 주세요.',
    no_key: '인증서 파일에 개인키가 없습니다. 개인키가 포함된 인증서 파일(.p12 또는 .pfx)을 선택해 주세요.',
    no_certificate: '인증서 파일에서 개인키와 짝이 맞는 인증서를 찾지 못했습니다. 다른 인증서 파일을 선택해 주세요.',
    not_rsa: '지원하지 않는 방식(RSA가 아닌 키)의 인증서입니다. RSA 방식의 개인 인증서를 선택해 주세요.',
    bad_file: '인증서 파일을 읽을 수 없습니다. 올바른 인증서 파일(.p12 또는 .pfx)을 선택해 주세요.',
    unsupported: '지원하지 않는 암호화 방식으로 저장된 인증서 파일입니다. 인증서를 .p12 또는 .pfx 형식으로 다시 내보낸 뒤 시도해 주세요.',
    no_file: '인증서 파일을 선택해 주세요.',
    no_password: '인증서 암호를 입력해 주세요.',
    no_challenge: '인증 요청 정보가 없습니다. 페이지를 새로고침한 뒤 다시 시도해 주세요.',
    no_forge: '인증서 처리 모듈을 불러오지 못했습니다. 페이지를 새로고침한 뒤 다시 시도해 주세요.',
    unknown: '인증서로 서명하지 못했습니다. 다시 시도해 주세요.'
  };

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
    if (!forge || !forge.pkcs12 || !forge.asn1 || !forge.md || !forge.pki) {
      throw certError('no_forge');
    }
    return forge;
  }

  // --- reading the file -------------------------------------------------------------------

  function readFile(file) {
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () { resolve(reader.result); };
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

  // --- opening the PKCS#12 ----------------------------------------------------------------

  function isAscii(text) {
    return /^[\x00-\x7f]*$/.test(text);
  }

  function classifyP12Error(error) {
    var text = String((error && error.message) || error);
    if (/not RSA|OID is not RSA/i.test(text)) {
      return certError('not_rsa', null, error);
    }
    if (/invalid password|wrong password|MAC could not be verified|Failed to decrypt|Unable to decrypt/i
        .test(text)) {
      return certError('wrong_password', null, error);
    }
    if (/unsupported/i.test(text)) {
      return certError('bad_file', 'unsupported', error);
    }
    return certError('bad_file', null, error);
  }

  function parseP12(forge, binary, password) {
    var asn1;
    try {
      asn1 = forge.asn1.fromDer(binary);
    } catch (strictError) {
      try {
        // Some tools write BER (e.g. indefinite lengths): try again, leniently.
        asn1 = forge.asn1.fromDer(binary, { strict: false, parseAllBytes: false });
      } catch (error) {
        throw certError('bad_file', null, error);
      }
    }
    var pbes2 = forge.pki.pbe.getCipherForPBES2;
    if (!isAscii(password)) {
      // PKCS#12 MACs and PBES1 keys take the password as BMPString (forge does that), but
      // PBES2/PBKDF2 (AES files written by OpenSSL 3) takes its UTF-8 bytes, which forge
      // does not do by itself: encode it for that call only.
      forge.pki.pbe.getCipherForPBES2 = function (oid, params, pass) {
        return pbes2.call(this, oid, params, forge.util.encodeUtf8(pass));
      };
    }
    try {
      return forge.pkcs12.pkcs12FromAsn1(asn1, false, password);
    } catch (error) {
      throw classifyP12Error(error);
    } finally {
      forge.pki.pbe.getCipherForPBES2 = pbes2;
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

  // --- the subject's name -----------------------------------------------------------------

  function decodeBmp(raw) {
    var text = '';
    for (var i = 0; i + 1 < raw.length; i += 2) {
      text += String.fromCharCode((raw.charCodeAt(i) << 8) | raw.charCodeAt(i + 1));
    }
    return text;
  }

  function subjectCommonName(forge, cert) {
    var field = cert.subject.getField('CN');
    if (!field || typeof field.value !== 'string') {
      return '';
    }
    var type = field.valueTagClass;
    if (type === forge.asn1.Type.BMPSTRING) {
      return decodeBmp(field.value);
    }
    try {
      // forge hands UTF8String values over as their UTF-8 bytes.
      return forge.util.decodeUtf8(field.value);
    } catch (error) {
      return field.value;
    }
  }

  // --- signing ----------------------------------------------------------------------------

  async function signChallenge(file, password, challenge) {
    var forge = getForge();
    if (!file) {
      throw certError('no_file');
    }
    if (typeof challenge !== 'string' || challenge === '') {
      throw certError('no_challenge');
    }
    if (typeof file.size === 'number' && (file.size === 0 || file.size > MAX_FILE_BYTES)) {
      throw certError('bad_file');
    }
    var binary = toBinaryString(await readFile(file));
    var p12 = parseP12(forge, binary, password == null ? '' : String(password));
    var pair = pickKeyAndCertificate(forge, p12);

    var der;
    var signature;
    try {
      der = forge.asn1.toDer(forge.pki.certificateToAsn1(pair.cert)).getBytes();
      var md = forge.md.sha256.create();
      md.update(challenge, 'utf8');
      signature = pair.key.sign(md); // RSASSA-PKCS1-v1_5
    } catch (error) {
      throw certError('bad_file', 'unknown', error);
    }
    return {
      certificate: forge.util.encode64(der),
      signature: forge.util.encode64(signature),
      subject: subjectCommonName(forge, pair.cert)
    };
  }

  // --- the form ---------------------------------------------------------------------------

  function find(root, name) {
    return root.querySelector('[' + name + ']');
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
    var passwordInput = find(scope, 'data-cert-password');
    var challengeInput = find(scope, 'data-cert-challenge');
    var certificateInput = find(scope, 'data-cert-certificate');
    var signatureInput = find(scope, 'data-cert-signature');
    var errorBox = find(scope, 'data-cert-error');
    var busy = false;

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

    form.addEventListener('submit', async function (event) {
      event.preventDefault();
      if (busy) {
        return;
      }
      clearError();
      var file = fileInput && fileInput.files ? fileInput.files[0] : null;
      if (!file) {
        showError(MESSAGES.no_file, fileInput);
        return;
      }
      if (passwordInput && passwordInput.value === '') {
        showError(MESSAGES.no_password, passwordInput);
        return;
      }
      setBusy(true);
      var result;
      try {
        result = await signChallenge(
          file,
          passwordInput ? passwordInput.value : '',
          challengeInput ? challengeInput.value : ''
        );
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
      // Never post the password, nor the certificate file itself.
      if (passwordInput) {
        passwordInput.value = '';
      }
      if (fileInput) {
        fileInput.value = '';
      }
      form.dispatchEvent(new CustomEvent('kdcis:cert-signed', { detail: { subject: result.subject } }));
      // The prototype's submit(): a control named "submit" cannot shadow it, and it does
      // not fire this handler again.
      HTMLFormElement.prototype.submit.call(form);
    });

    // Coming back through the browser's back/forward cache: let the user try again.
    window.addEventListener('pageshow', function () { setBusy(false); });
    return form;
  }

  function wireAll() {
    var forms = document.querySelectorAll('form[data-cert-form]');
    for (var i = 0; i < forms.length; i++) {
      wireDialog(forms[i]);
    }
  }

  window.KdcisCert = {
    signChallenge: signChallenge,
    wireDialog: wireDialog,
    messages: MESSAGES
  };

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', wireAll);
  } else {
    wireAll();
  }
})();
