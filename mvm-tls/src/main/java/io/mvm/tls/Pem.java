package io.mvm.tls;

import io.mvm.model.MvmException;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;

/** PEM text to and from JDK key and certificate objects (BouncyCastle's parser and writer). */
public final class Pem {
    private Pem() {}

    public static String encode(Object certOrKeyOrCsr) {
        var out = new StringWriter();
        try (var w = new JcaPEMWriter(out)) {
            if (certOrKeyOrCsr instanceof PrivateKey key) {
                // PKCS#8 ("PRIVATE KEY"): the SEC1 form BouncyCastle would write lacks the public half.
                w.writeObject(new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(key, null));
            } else {
                w.writeObject(certOrKeyOrCsr);
            }
        } catch (IOException e) {
            throw MvmException.internal("cannot encode PEM", e);
        }
        return out.toString();
    }

    public static String encode(List<X509Certificate> chain) {
        var sb = new StringBuilder();
        chain.forEach(c -> sb.append(encode(c)));
        return sb.toString();
    }

    /** Every certificate in {@code pem}, in order; INVALID_ARGUMENT when there is none or one is broken. */
    public static List<X509Certificate> certificates(String pem) {
        var out = new ArrayList<X509Certificate>();
        try (var parser = new PEMParser(new StringReader(pem))) {
            Object o;
            while ((o = parser.readObject()) != null) {
                if (o instanceof X509CertificateHolder h) {
                    out.add(new JcaX509CertificateConverter().getCertificate(h));
                }
            }
        } catch (IOException | CertificateException | RuntimeException e) {
            throw MvmException.invalid("unreadable PEM certificate: " + e.getMessage());
        }
        if (out.isEmpty()) {
            throw MvmException.invalid("no PEM certificate found");
        }
        return out;
    }

    public static X509Certificate certificate(String pem) {
        return certificates(pem).getFirst();
    }

    public static PrivateKey privateKey(String pem) {
        try (var parser = new PEMParser(new StringReader(pem))) {
            Object o = parser.readObject();
            var converter = new JcaPEMKeyConverter();
            return switch (o) {
                case PEMKeyPair kp -> converter.getKeyPair(kp).getPrivate();
                case PrivateKeyInfo info -> converter.getPrivateKey(info);
                case null, default -> throw MvmException.invalid("no PEM private key found");
            };
        } catch (IOException e) {
            throw MvmException.invalid("unreadable PEM private key: " + e.getMessage());
        }
    }

    public static PKCS10CertificationRequest csr(String pem) {
        if (pem == null || pem.isBlank()) {
            throw MvmException.invalid("csr is empty");
        }
        try (var parser = new PEMParser(new StringReader(pem))) {
            if (parser.readObject() instanceof PKCS10CertificationRequest csr) {
                return csr;
            }
            throw MvmException.invalid("csr is not a PEM certificate request");
        } catch (IOException | RuntimeException e) {
            if (e instanceof MvmException m) {
                throw m;
            }
            throw MvmException.invalid("unreadable certificate request: " + e.getMessage());
        }
    }
}
