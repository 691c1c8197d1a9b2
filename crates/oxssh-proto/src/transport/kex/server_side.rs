//! The server's half of the method round trip: choose a group for GEX_REQUEST, answer
//! the client's public value with ours, the host key and a signature over H.

// The exchange's types, imports and hash helpers live in the parent module.
use super::*;

impl Transport {
    /// Server: answers the client's public value with ours and a signature.
    pub(super) fn server_gex_request(&mut self, payload: &[u8]) -> Result<(), TransportError> {
        let request = msgs::KexDhGexRequest::decode(payload)?;
        if request.min > request.n || request.n > request.max {
            return Err(PeerMisbehaved::Kex(crate::crypto::CryptoError::BadGroup).into());
        }
        let base = self.negotiated_kex()?;
        let group = base
            .gex_choose_group(request.min, request.n, request.max)
            .map_err(PeerMisbehaved::Kex)?;
        let alg = base
            .gex_with_group(&group)
            .map_err(TransportError::Crypto)?;
        self.write_message(&msgs::KexDhGexGroup {
            p: group.p.clone(),
            g: group.g.clone(),
        })?;
        self.set_step(KexStep::ExpectGexInit {
            alg,
            gex: GexParams { request, group },
        })
    }

    pub(super) fn server_init(
        &mut self,
        gex: Option<(Box<dyn KexAlgorithm>, GexParams)>,
        payload: &[u8],
    ) -> Result<(), TransportError> {
        let base = self.negotiated_kex()?;
        let (alg, gex): (&dyn KexAlgorithm, Option<GexParams>) = match &gex {
            Some((alg, params)) => (alg.as_ref(), Some(params.clone())),
            None => (base, None),
        };
        let client_public = match (alg.method(), &gex) {
            (KexMethod::Ecdh, _) => msgs::KexEcdhInit::decode(payload)?.client_public,
            (_, Some(_)) => msgs::KexDhGexInit::decode(payload)?.e,
            (_, None) => msgs::KexDhInit::decode(payload)?.e,
        };
        let response = alg
            .server_respond(&client_public, self.provider.random)
            .map_err(PeerMisbehaved::Kex)?;
        let negotiated = self.negotiated()?;
        let Role::Server { host_keys } = &self.role else {
            return Err(TransportError::ApiMisuse("server step on a client"));
        };
        let host_key = host_keys
            .iter()
            .find(|k| can_sign_as(k.as_ref(), &negotiated.host_key))
            .cloned()
            .ok_or(PeerMisbehaved::NoCommonAlgorithm(
                crate::error::AlgorithmKind::HostKey,
            ))?;
        // A certificate algorithm sends the certificate and signs with the plain one.
        let (host_key_blob, sig_name) =
            match crate::certificate::plain_algorithm(&negotiated.host_key) {
                Some(plain) => (
                    host_key
                        .certificate()
                        .map(|c| c.to_blob())
                        .unwrap_or_default(),
                    plain,
                ),
                None => (
                    host_key.public_key().to_blob(),
                    negotiated.host_key.as_str(),
                ),
            };
        let exchange = hash_exchange(
            alg.method(),
            gex.as_ref(),
            &client_public,
            &response.server_public,
        );
        let h = self.compute_hash(alg, &host_key_blob, &exchange, &response.secret)?;
        let raw_sig = host_key
            .sign(sig_name, &h)
            .map_err(TransportError::Crypto)?;
        let mut signature = Vec::with_capacity(raw_sig.len() + 32);
        Writer::new(&mut signature)
            .string(sig_name.as_bytes())
            .string(&raw_sig);
        let keys = self.finish_hash(alg, &negotiated, &response.secret, h)?;
        match (alg.method(), gex.is_some()) {
            (KexMethod::Ecdh, _) => self.write_message(&msgs::KexEcdhReply {
                host_key: host_key_blob,
                server_public: response.server_public,
                signature,
            })?,
            (_, true) => self.write_message(&msgs::KexDhGexReply {
                host_key: host_key_blob,
                f: response.server_public,
                signature,
            })?,
            (_, false) => self.write_message(&msgs::KexDhReply {
                host_key: host_key_blob,
                f: response.server_public,
                signature,
            })?,
        }
        self.send_newkeys(keys)
    }
}
