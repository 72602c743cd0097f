//! The `.complete` marker that Atlas uploads after the last file of an export.

/// A `{"key": …, "value": …}` pair of `labels` or `customData`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyValue {
    /// The text before the first `=`; [`parse`](KeyValue::parse) never gives an empty one.
    pub key: String,
    /// The text after the first `=`: may be empty, may contain `=`.
    pub value: String,
}

impl KeyValue {
    /// Parses `key=value` (the value may contain `=`).
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok(KeyValue {
                key: k.to_string(),
                value: v.to_string(),
            }),
            _ => Err(format!("`{text}` is not of the form key=value")),
        }
    }
}

/// The fields of `.complete`, in the order Atlas documents them; `totalFiles` is counted by
/// the exporter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompleteMarker {
    /// `orgId`: the Atlas organization's id (24 hex digits in Atlas; written as given).
    pub org_id: String,
    /// `orgName`: the Atlas organization's name.
    pub org_name: String,
    /// `groupId`: the Atlas project's id (Atlas calls projects groups).
    pub group_id: String,
    /// `groupName`: the Atlas project's name.
    pub group_name: String,
    /// `clusterUniqueId`: the id of the cluster the snapshot was taken of.
    pub cluster_unique_id: String,
    /// `clusterName`: the name of the cluster the snapshot was taken of.
    pub cluster_name: String,
    /// ISO-8601 UTC with milliseconds, e.g. `2020-04-03T05:50:29.321Z`.
    pub snapshot_initiation_date: String,
    /// `labels`, in the order given; empty gives `[]`.
    pub labels: Vec<KeyValue>,
    /// `customData`, in the order given; empty gives `[]`.
    pub custom_data: Vec<KeyValue>,
}

impl CompleteMarker {
    /// The JSON text of `.complete` (compact, valid JSON, empty lists as `[]`).
    pub fn to_json(&self, total_files: u64) -> String {
        use serde_json::{json, Map, Value};
        let pairs = |items: &[KeyValue]| {
            Value::Array(
                items
                    .iter()
                    .map(|kv| json!({"key": kv.key, "value": kv.value}))
                    .collect(),
            )
        };
        let mut m = Map::new();
        m.insert("orgId".into(), self.org_id.clone().into());
        m.insert("orgName".into(), self.org_name.clone().into());
        m.insert("groupId".into(), self.group_id.clone().into());
        m.insert("groupName".into(), self.group_name.clone().into());
        m.insert(
            "clusterUniqueId".into(),
            self.cluster_unique_id.clone().into(),
        );
        m.insert("clusterName".into(), self.cluster_name.clone().into());
        m.insert(
            "snapshotInitiationDate".into(),
            self.snapshot_initiation_date.clone().into(),
        );
        m.insert("totalFiles".into(), total_files.into());
        m.insert("labels".into(), pairs(&self.labels));
        m.insert("customData".into(), pairs(&self.custom_data));
        Value::Object(m).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_order_and_shape_follow_the_atlas_documentation() {
        let marker = CompleteMarker {
            org_id: "60512d6f65e4047fe0842095".into(),
            org_name: "org1".into(),
            group_id: "60512dac65e4047fe084220f".into(),
            group_name: "group1".into(),
            cluster_unique_id: "60512dac65e4047fe0842212".into(),
            cluster_name: "cluster0".into(),
            snapshot_initiation_date: "2020-04-03T05:50:29.321Z".into(),
            labels: vec![KeyValue::parse("key1=xyz").unwrap()],
            custom_data: vec![KeyValue::parse("key1=xyz").unwrap()],
        };
        // The documented example (atlas-export.md §3), with its missing comma restored.
        assert_eq!(
            marker.to_json(23),
            r#"{"orgId":"60512d6f65e4047fe0842095","orgName":"org1","groupId":"60512dac65e4047fe084220f","groupName":"group1","clusterUniqueId":"60512dac65e4047fe0842212","clusterName":"cluster0","snapshotInitiationDate":"2020-04-03T05:50:29.321Z","totalFiles":23,"labels":[{"key":"key1","value":"xyz"}],"customData":[{"key":"key1","value":"xyz"}]}"#
        );
        assert!(CompleteMarker::default()
            .to_json(0)
            .contains(r#""labels":[],"customData":[]"#));
    }

    #[test]
    fn key_value_parsing() {
        assert_eq!(
            KeyValue::parse("a=b=c").unwrap(),
            KeyValue {
                key: "a".into(),
                value: "b=c".into()
            }
        );
        assert!(KeyValue::parse("novalue").is_err());
        assert!(KeyValue::parse("=x").is_err());
    }
}
