//! The client's half of the method round trip: send our public value (after GEX_GROUP
//! for group exchange), then check the server's reply and its host-key signature.

// The exchange's types, imports and hash helpers live in the parent module.
use super::*;

impl Transport {
    pub(super) fn send_client_public(
        &mut self,
        method: KexMethod,
        gex: Option<&GexParams>,
        public: &[u8],
    ) -> Result<(), TransportError> {
        match (method, gex) {
            (KexMethod::Ecdh, _) => self.write_message(&msgs::KexEcdhInit {
                client_public: public.to_vec(),
            }),
            (_, Some(_)) => self.write_message(&msgs::KexDhGexInit { e: public.to_vec() }),
            (_, None) => self.write_message(&msgs::KexDhInit { e: public.to_vec() }),
        }
    }

    pub(super) fn client_gex_group(
        &mut self,
        request: msgs::KexDhGexRequest,
        payload: &[u8],
    ) -> Result<(), TransportError> {
        let msg = msgs::KexDhGexGroup::decode(payload)?;
        let bits = bit_len(&msg.p);
        if bits < request.min as usize || bits > request.max as usize {
            return Err(PeerMisbehaved::Kex(crate::crypto::CryptoError::BadGroup).into());
        }
        let group = DhGroup { p: msg.p, g: msg.g };
        let base = self.negotiated_kex()?;
        let alg = base.gex_with_group(&group).map_err(PeerMisbehaved::Kex)?;
        let client = alg
            .client_start(self.provider.random)
            .map_err(TransportError::Crypto)?;
        let gex = GexParams { request, group };
        self.send_client_public(KexMethod::Dh, Some(&gex), client.public())?;
        self.set_step(KexStep::ExpectReply {
            alg: Box::new(alg),
            client,
            gex: Some(gex),
        })
    }

    /// Client: checks the server's reply, derives keys, verifies the host key signature.
    pub(super) fn client_reply(
        &mut self,
        alg: &dyn KexAlgorithm,
        client: Box<dyn KexClient>,
        gex: Option<GexParams>,
        payload: &[u8],
    ) -> Result<(), TransportError> {
        let client_public = client.public().to_vec();
        let (host_key_blob, server_public, signature) = match (alg.method(), &gex) {
            (KexMethod::Ecdh, _) => {
                let m = msgs::KexEcdhReply::decode(payload)?;
                (m.host_key, m.server_public, m.signature)
            }
            (_, Some(_)) => {
                let m = msgs::KexDhGexReply::decode(payload)?;
                (m.host_key, m.f, m.signature)
            }
            (_, None) => {
                let m = msgs::KexDhReply::decode(payload)?;
                (m.host_key, m.f, m.signature)
            }
        };
        let negotiated = self.negotiated()?;
        let plain = crate::certificate::plain_algorithm(&negotiated.host_key);
        let (host_key, certificate) = match plain {
            None => (
                PublicKey::from_blob(&host_key_blob)
                    .map_err(|_| PeerMisbehaved::BadHostKey("malformed host key"))?,
                None,
            ),
            Some(_) => {
                let cert = Certificate::from_blob(&host_key_blob)
                    .map_err(|_| PeerMisbehaved::BadHostKey("malformed host certificate"))?;
                crate::certificate::verify_signature(&self.provider, &cert)
                    .map_err(PeerMisbehaved::BadHostKey)?;
                (cert.key.clone(), Some(Box::new(cert)))
            }
        };
        let sig_alg_name = plain.unwrap_or(&negotiated.host_key);
        let sig_alg = self
            .provider
            .signature(sig_alg_name)
            .ok_or(PeerMisbehaved::BadHostKey("unsupported host key algorithm"))?;
        if sig_alg.key_type() != host_key.key_type() {
            return Err(
                PeerMisbehaved::BadHostKey("host key type does not match negotiation").into(),
            );
        }
        let secret = client.finish(&server_public).map_err(PeerMisbehaved::Kex)?;
        let exchange = hash_exchange(alg.method(), gex.as_ref(), &client_public, &server_public);
        let h = self.compute_hash(alg, &host_key_blob, &exchange, &secret)?;
        let (sig_name, sig) = parse_signature_blob(&signature)?;
        if sig_name != sig_alg_name {
            return Err(PeerMisbehaved::BadHostKeySignature.into());
        }
        sig_alg
            .verify(&host_key, &h, sig)
            .map_err(|_| PeerMisbehaved::BadHostKeySignature)?;
        let keys = self.finish_hash(alg, &negotiated, &secret, h)?;
        match &self.server_host_key {
            None => {
                self.server_host_key = Some(host_key.clone());
                self.server_host_certificate = certificate;
                self.events.push_back(Event::HostKey {
                    key: host_key,
                    algorithm: negotiated.host_key,
                });
                self.set_step(KexStep::ExpectHostKeyDecision { keys })
            }
            Some(known) if *known == host_key => self.send_newkeys(keys),
            Some(_) => Err(PeerMisbehaved::HostKeyChanged.into()),
        }
    }
}
