//! Command-line options.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "bsonflow",
    version,
    about = "Turn MongoDB backups into the export layout MongoDB Atlas writes",
    long_about = "Turn MongoDB backups into the export layout MongoDB Atlas writes for a \
cloud-backup snapshot: one folder per collection holding gzip'd Extended JSON chunks \
(<shard>.<n>.json.gz, one document per line), a metadata.json per collection, and a \
.complete marker written last.\n\n\
Reads mongodump folders and archives, ApsaraDB for MongoDB downloads (cloud BSON packages \
.tar.zst/.tar.gz, local logical backups .ar, physical backups _qp.xb and .tar.gz) and mongod \
data directories — the kind of input is told by its content, not its name.",
    after_help = "Exit status: 0 = everything written in full; 1 = the run failed (no .complete); \
2 = bad usage; 3 = export complete but data you asked to skip was skipped (--skip-corrupt, \
--skip-missing). `bsonflow verify`: 0 = the export is whole, 1 = a problem was found (each is \
printed with its file and line).\n\n\
Examples:\n\
  bsonflow convert ./dump --out ./export\n\
  bsonflow verify ./export --input ./dump\n\
  bsonflow completions bash > /etc/bash_completion.d/bsonflow"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// More log on stderr: -v for what each step does, -vv for details (RUST_LOG, when
    /// set, decides instead: e.g. RUST_LOG=bsonflow=debug). Warnings are always logged.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Convert a backup into an Atlas-style export.
    #[command(long_about = "Convert a backup into an Atlas-style export.\n\n\
INPUT may be:\n\
  - a mongodump folder (<db>/<coll>.bson + <coll>.metadata.json, .bson.gz too) or the folder of one database;\n\
  - an ApsaraDB cloud BSON download, unpacked (<db>/<coll>/data/<coll>_<N>_part<M>.bson) or as .tar.zst/.tar.gz;\n\
  - a tar / tar.gz / tar.zst of either layout;\n\
  - a mongodump --archive file, plain or gzipped (ApsaraDB's .ar);\n\
  - a physical backup: xbstream _qp.xb, a tar(.gz) of a data directory, or a mongod data directory itself;\n\
  - a single .bson file (give --ns db.coll, or --db with the file name as the collection).\n\n\
Written to DIR:\n\
  <db>/<coll>/<shard>.<n>.json.gz   gzip'd Extended JSON, one document per line, n = 0, 1, …\n\
  <db>/<coll>/metadata.json         options, indexes, uuid (mongodump's metadata shape)\n\
  .complete                         written last, only when every collection was written in full\n\n\
Never exported, and listed with the reason in the summary: the admin, local and config databases, \
system.* collections (system.js too), views, time-series collections and their system.buckets.*, \
names containing '/'.\n\n\
Object storage: INPUT may be s3://BUCKET/KEY, oss://BUCKET/KEY (Alibaba OSS; needs --region) or an \
http(s):// URL of one object (a presigned download link); a key ending in / or naming no object is \
read as a folder. --out may be s3:// or oss://. Credentials come from AWS_ACCESS_KEY_ID, \
AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (for oss://, OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET and \
OSS_SESSION_TOKEN first), else web-identity, container or instance credentials; ~/.aws profiles are \
not read. Nothing secret is ever printed.\n\n\
Examples:\n\
  bsonflow convert ./dump --out ./export\n\
  bsonflow convert hins1234_data_20260101.tar.zst --out ./export --chunk-bytes 64M\n\
  bsonflow convert s3://backups/inst-1234/ --out s3://lake/exports/inst-1234/\n\
  bsonflow convert oss://my-bucket/hins1234.tar.gz --region cn-hangzhou --out ./export\n\
  bsonflow convert ./dump --out s3://lake/x/ --endpoint http://127.0.0.1:9000\n\
  bsonflow convert 'https://…/backup.tar.gz?Expires=…&Signature=…' --out s3://lake/y/\n\
  bsonflow convert shard1_qp.xb shard2_qp.xb --out ./export          # a sharded cluster\n\
  bsonflow convert --shard rs0=rs0.tar.zst --shard rs1=rs1.tar.zst --out ./export\n\
  bsonflow convert ./dump --out ./export --report run.json --atlas-prefix ids --org-id … --group-id …")]
    Convert(Box<ConvertArgs>),
    /// Tell what a backup holds, and what converting it would give, writing nothing.
    #[command(
        long_about = "Tell what a backup holds, writing nothing: the format chain \
(what the input turned out to be, layer by layer), every namespace with its documents and BSON \
bytes, what convert would skip and why (the same words as convert's summary), and an estimate \
of the export's size and of the conversion time on this machine, from a sample converted in \
memory.\n\n\
By default only what is cheap is read, and each count says how it is known (exact, at_least, \
estimate, recorded, unknown):\n\
  - uncompressed .bson files of a local folder: every file, hopping from one document length \
to the next (nothing decompressed): exact;\n\
  - .bson.gz / .bson.zst files, and files in object storage: the first --sample bytes, shared \
out over the data files (at least 256 KiB each): exact for a file read to its end, else \
extrapolated from the file's size;\n\
  - an uncompressed local tar or mongodump archive: all of it (tar headers, archive prelude \
and segment headers, document lengths): exact;\n\
  - a gzip/zstd tar or mongodump archive, or one in object storage: its first --sample bytes; \
exact when the stream ends within them, else exact for the namespaces that ended within \
them and at_least for the one being read, with totals extrapolated by the share of the input \
read, and a list of what is not known;\n\
  - a mongod data directory: the catalog and mongod's size storer (sizeStorer.wt), reading no \
collection: recorded counts;\n\
  - a physical backup (_qp.xb, tar of a data directory): its format only; the catalog is \
inside the packed files.\n\
--exact reads everything as convert would (a physical backup is unpacked into a temporary \
folder, removed afterwards) and counts every document.\n\n\
Exit status: 0 = inspected; 1 = the input could not be read, or is damaged where it was read \
(each problem is printed). --json prints one JSON object (schema: docs/inspect.schema.json).\n\n\
Examples:\n\
  bsonflow inspect ./dump\n\
  bsonflow inspect hins1234_data_20260101.tar.zst --json\n\
  bsonflow inspect backup.ar.gz --exact --exclude 'test.*'\n\
  bsonflow inspect s3://backups/inst-1234/ --endpoint http://127.0.0.1:9000"
    )]
    Inspect(Box<InspectArgs>),
    /// Unpack a physical backup (_qp.xb, tar.gz of a data directory) into a data directory.
    #[command(
        long_about = "Unpack a physical backup into a mongod data directory: an xbstream \
archive of qpress-compressed files (ApsaraDB's _qp.xb — replaces `xbstream -x` + `qpress -d`), \
or a tar / tar.gz / tar.zst of a data directory. Every CRC-32 and Adler-32 is checked; no file is \
ever written outside DIR.\n\n\
Examples:\n\
  bsonflow unpack hins1234_qp.xb --out ./datadir\n\
  bsonflow unpack backup.tar.gz --out ./datadir -j 4"
    )]
    Unpack(UnpackArgs),
    /// Scale-out, step 1: split a conversion into tasks; prints the plan (JSON) on stdout.
    #[command(
        long_about = "Scale-out, step 1 of 3: split the conversion of INPUT into tasks that any \
engine (Ray, Spark, Kubernetes, AWS Batch) can run anywhere, in any order, any number of times. \
Prints the plan as JSON on stdout; it carries INPUT, --out and every option, never credentials.\n\n\
A BSON set of uncompressed .bson files (a mongodump or cloud-layout folder, local or under an \
s3:// / oss:// prefix) is cut into byte-range tasks of about --target-bytes of BSON, at chunk \
boundaries found by hopping from one document length to the next; a collection of compressed \
files is one task; any other input (tar, archive, physical backup) is one task.\n\n\
Examples:\n\
  bsonflow plan ./dump --out s3://lake/x/ --endpoint http://127.0.0.1:9000 > plan.json\n\
  bsonflow run-task plan.json --task 0     # for every task id, on any machine\n\
  bsonflow commit plan.json                # once every task has succeeded"
    )]
    Plan(Box<PlanArgs>),
    /// Scale-out, step 2: convert one task of a plan (idempotent).
    #[command(
        long_about = "Scale-out, step 2 of 3: convert exactly task K of PLAN (a path or an \
s3:// / oss:// URL). Deletes <out>/.complete first, writes the task's chunk files under their \
final names (on disk by temporary name + rename, on S3 by PUT or multipart upload) and then its \
manifest <out>/.bsonflow/tasks/K.json. Running a task again rewrites the same names with the same \
bytes and never touches another task's files.\n\n\
Examples:\n\
  bsonflow run-task plan.json --task 0\n\
  bsonflow run-task s3://lake/plans/x.json --task 17 --progress never"
    )]
    RunTask(RunTaskArgs),
    /// Scale-out, step 3: check every task's manifest and publish the export.
    #[command(
        long_about = "Scale-out, step 3 of 3: check that every task of PLAN finished (its \
manifest is present), that the byte ranges chain exactly, that chunk numbers run 0..n with every \
file present and that document counts add up; then write each collection's metadata.json, delete \
.bsonflow/ and stray files, and write .complete last (create-only). Exits non-zero naming the \
tasks at fault, and changes nothing, when a check fails. Committing twice is harmless.\n\n\
Examples:\n\
  bsonflow commit plan.json\n\
  bsonflow commit s3://lake/plans/x.json && bsonflow verify s3://lake/x/"
    )]
    Commit(CommitArgs),
    /// Check that an export is whole (and, with --input, that it holds the input's documents).
    #[command(
        long_about = "Check that an export is whole: every chunk (<shard>.<n>.json.gz) \
decompresses (one or more gzip members) and each of its lines is an Extended JSON document; chunk \
numbers per collection and shard run from 0 without a gap; each collection has a well-formed \
metadata.json; .complete exists and its totalFiles equals the data files present; no temporary or \
stray file is left.\n\n\
With --input, the input is read as `convert` reads it: per collection, the export must hold the \
input's documents, each rendered as convert renders it, in the same order — a dropped, duplicated, \
altered or reordered document is named by file and line. A per-collection digest (SHA-256 over the \
SHA-256 of each line, in order) is printed; keep it to compare the export later.\n\n\
EXPORT may be a folder or s3://BUCKET/PREFIX, oss://BUCKET/PREFIX; chunks are streamed, never loaded \
whole. Exit status: 0 when everything holds, 1 when any problem is found (each printed with its file \
and line) or the export or input cannot be read.\n\n\
Examples:\n\
  bsonflow verify ./export\n\
  bsonflow verify ./export --input ./dump\n\
  bsonflow verify ./export --shard rs0=rs0_backup.tar.zst --shard rs1=rs1_backup.tar.zst\n\
  bsonflow verify s3://lake/exports/inst-1234/ --input s3://backups/inst-1234.tar.zst --json > verify.json"
    )]
    Verify(Box<VerifyArgs>),
    /// Print a shell completion script (bash, zsh, fish, powershell) on stdout.
    #[command(
        long_about = "Print the completion script for SHELL on stdout, generated from \
this command line's definition.\n\n\
Examples:\n\
  bsonflow completions bash > ~/.local/share/bash-completion/completions/bsonflow\n\
  bsonflow completions zsh > ~/.zfunc/_bsonflow\n\
  bsonflow completions fish > ~/.config/fish/completions/bsonflow.fish\n\
  bsonflow completions powershell >> $PROFILE"
    )]
    Completions(CompletionsArgs),
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The backup: a file or a folder, or the same in object storage (s3://BUCKET/KEY,
    /// oss://BUCKET/KEY, an http(s):// URL of one object), as for convert.
    pub input: PathBuf,

    /// Print one JSON object (schema: docs/inspect.schema.json) instead of text.
    #[arg(long)]
    pub json: bool,

    /// Read everything, as convert would, and count every document.
    #[arg(long)]
    pub exact: bool,

    /// Raw bytes read of a compressed or remote input when not --exact (suffixes K, M, G).
    #[arg(long, value_name = "BYTES", default_value = "16M", value_parser = parse_size)]
    pub sample: u64,

    /// As for convert: the export's flavour, which the estimate assumes.
    #[arg(long, value_enum, default_value = "canonical")]
    pub format: Format,

    /// As for convert: the gzip level the estimate assumes (0-12).
    #[arg(long, value_name = "LEVEL", default_value_t = 6, value_parser = clap::value_parser!(u32).range(0..=12))]
    pub gzip_level: u32,

    /// As for convert: threads (default: one per core); the time estimate assumes them.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,

    /// As for convert: export only namespaces matching PATTERN; repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub include: Vec<String>,

    /// As for convert: skip namespaces matching PATTERN; repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub exclude: Vec<String>,

    /// For a single .bson file: its namespace.
    #[arg(long, value_name = "DB.COLL")]
    pub ns: Option<String>,

    /// For a single .bson file: its database (the collection is the file name).
    #[arg(long, value_name = "DB")]
    pub db: Option<String>,

    /// Do not draw a progress bar.
    #[arg(long, short)]
    pub quiet: bool,

    #[command(flatten)]
    pub storage: StorageArgs,
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    #[command(flatten)]
    pub convert: ConvertArgs,

    /// Input BSON per task, cut at the next chunk boundary (suffixes K, M, G).
    #[arg(long, value_name = "BYTES", default_value = "256M", value_parser = parse_size)]
    pub target_bytes: u64,
}

#[derive(Args, Debug)]
pub struct RunTaskArgs {
    /// The plan: a path or an s3:// / oss:// URL.
    pub plan: String,

    /// The task's id.
    #[arg(long, value_name = "K")]
    pub task: usize,

    /// Threads (default: one per core).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,

    /// Do not draw progress bars.
    #[arg(long, short)]
    pub quiet: bool,

    #[command(flatten)]
    pub progress: ProgressArgs,
}

#[derive(Args, Debug)]
pub struct CommitArgs {
    /// The plan: a path or an s3:// / oss:// URL.
    pub plan: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Canonical Extended JSON v2 (type-preserving; what Atlas writes).
    Canonical,
    /// Relaxed Extended JSON v2 (plain JSON numbers and ISO dates; what mongoexport writes).
    Relaxed,
}

/// Which names fill the org and project segments of `--atlas-prefix`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AtlasPrefix {
    /// --org-name and --group-name, spaces made `_` and unsafe characters removed.
    Names,
    /// --org-id and --group-id (24 hex digits in Atlas).
    Ids,
}

#[derive(Args, Debug, Clone)]
pub struct ConvertArgs {
    /// The backup to convert: a file or a folder (see above), or the same in object storage:
    /// s3://BUCKET/KEY, oss://BUCKET/KEY, or an http(s):// URL of one object. Several
    /// inputs are the shards of one sharded cluster, written into one export: a physical
    /// backup or data directory names its shard by its replica set; name a logical backup
    /// with --shard instead.
    #[arg(value_name = "INPUT", required_unless_present = "shards")]
    pub inputs: Vec<PathBuf>,

    /// One shard's backup, named: its files are <db>/<coll>/NAME.<n>.json.gz (NAME is the
    /// shard's replica-set name in an Atlas export); repeatable, and mixed freely with
    /// unnamed physical inputs. A logical backup (mongodump folder or archive, cloud BSON
    /// download) does not know its shard, so it needs this when there are several inputs.
    // This doc comment is the `--help` text, where `<db>` is meant literally, not as HTML.
    #[allow(rustdoc::invalid_html_tags)]
    #[arg(long = "shard", value_name = "NAME=INPUT")]
    pub shards: Vec<String>,

    /// A sharded cluster: the config server's backup (any input kind). Its chunk table
    /// (config.collections, config.chunks, config.shards) decides which shard owns each
    /// document of a sharded collection; copies a shard holds but does not own (orphans
    /// left by chunk migrations) are dropped, counted and listed per shard and collection.
    #[arg(long, value_name = "INPUT")]
    pub config_server: Option<PathBuf>,

    /// The one input being opened: set from INPUT / --shard by [`ConvertArgs::for_input`]
    /// or [`ConvertArgs::single_input`], not on the command line.
    #[arg(skip)]
    pub input: PathBuf,

    /// Which of several inputs `input` is (`0`, `1`, …, or `config-server`): keeps their
    /// scratch folders apart.
    #[arg(skip)]
    pub scratch_tag: Option<String>,

    /// Output folder (the export prefix), or s3://BUCKET/PREFIX or oss://BUCKET/PREFIX;
    /// created if absent, must be empty (or hold an earlier bsonflow export) if present.
    #[arg(short, long, value_name = "DIR|URL")]
    pub out: PathBuf,

    /// Extended JSON flavour of the data files.
    #[arg(long, value_enum, default_value = "canonical")]
    pub format: Format,

    /// End a chunk file after the document that brings it to this much input BSON (suffixes
    /// K, M, G = KiB, MiB, GiB). The default gives files of about 70 MiB compressed on
    /// typical data (JSON ≈ 1.5 × BSON, gzip -6 keeps ≈ 18 % of the JSON), the size lakes
    /// read best; memory does not grow with it (chunks stream as 4 MiB gzip members).
    #[arg(long, value_name = "BYTES", default_value = "256M", value_parser = parse_size)]
    pub chunk_bytes: u64,

    /// <shard> of <shard>.<n>.json.gz. Default: the replica-set name when the input knows
    /// it (a physical backup), else "bsonflow-shard-0".
    // This doc comment is the `--help` text, where `<shard>` is meant literally, not as HTML.
    #[allow(rustdoc::invalid_html_tags)]
    #[arg(long, value_name = "NAME")]
    pub shard_name: Option<String>,

    /// gzip level of the data files (0-12, 6 = gzip's default). Each level uses the fastest
    /// encoder for it: 1 = ISA-L igzip -1 (about 2% larger than libdeflate -1, twice as fast),
    /// 2 = ISA-L igzip -3, 0 (stored) and 3-12 = libdeflate at that level. All write standard
    /// gzip.
    #[arg(long, value_name = "LEVEL", default_value_t = 6, value_parser = clap::value_parser!(u32).range(0..=12))]
    pub gzip_level: u32,

    /// Threads that convert and compress (default: one per core): N-1 compression threads,
    /// and the reading thread compresses too whenever compression falls behind, so N threads
    /// stay busy; -j1 does everything on one thread. Several inputs (shards) are read up to N
    /// at a time.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,

    /// Export only namespaces matching PATTERN (db.coll, '*' matches anything); repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub include: Vec<String>,

    /// Skip namespaces matching PATTERN (db.coll, '*' matches anything); repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub exclude: Vec<String>,

    /// For a single .bson file: its namespace.
    #[arg(long, value_name = "DB.COLL")]
    pub ns: Option<String>,

    /// For a single .bson file: its database (the collection is the file name).
    #[arg(long, value_name = "DB")]
    pub db: Option<String>,

    /// Count and skip corrupt documents (reported in the summary, exit status 3) instead of
    /// failing the run.
    #[arg(long)]
    pub skip_corrupt: bool,

    /// Physical backups: carry on when a collection's data file is missing (reported in the
    /// summary, exit status 3) instead of failing the run.
    #[arg(long)]
    pub skip_missing: bool,

    /// Physical backups: where to unpack the data directory (default: a folder next to the
    /// output folder). Removed afterwards unless --keep-scratch.
    #[arg(long, value_name = "DIR")]
    pub scratch: Option<PathBuf>,

    /// Keep the unpacked data directory of a physical backup.
    #[arg(long)]
    pub keep_scratch: bool,

    /// Do not draw progress bars.
    #[arg(long, short)]
    pub quiet: bool,

    /// Also write the run's report to FILE as JSON (schema in the README, "Using bsonflow
    /// from a pipeline"): per collection and shard the documents, bytes, chunks and seconds;
    /// what was skipped and why; every corrupt document skipped; failures; the exit status.
    /// Written whatever the outcome, also when the run fails.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Write under exported_snapshots/<org>/<project>/<clusterName>/<YYYY-MM-DDTHHmm>/<epoch>/
    /// inside --out, as Atlas names an export's prefix: `names` (the default when given
    /// without a value) takes --org-name and --group-name, `ids` takes --org-id and
    /// --group-id (what Atlas itself uses unless told otherwise). The date is
    /// --snapshot-date's, the epoch the run's start in seconds.
    // This doc comment is the `--help` text, where `<org>` is meant literally, not as HTML.
    #[allow(rustdoc::invalid_html_tags)]
    #[arg(long, value_enum, value_name = "names|ids", num_args = 0..=1, default_missing_value = "names")]
    pub atlas_prefix: Option<AtlasPrefix>,

    #[command(flatten)]
    pub progress: ProgressArgs,

    #[command(flatten)]
    pub storage: StorageArgs,

    #[command(flatten)]
    pub marker: MarkerArgs,
}

/// How progress is shown on stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// A bar on a terminal; when stderr is not a terminal, a plain line every 5 seconds.
    #[default]
    Auto,
    /// As auto, even with --quiet.
    Always,
    /// Plain lines, even on a terminal (for logs that record a terminal session).
    Plain,
    /// No progress at all (as --quiet).
    Never,
}

/// `--progress`.
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct ProgressArgs {
    /// Progress on stderr: auto = a bar on a terminal, else one plain line every few
    /// seconds (bytes done of total, rate, ETA; no escape codes); always = as auto even with
    /// --quiet; plain = plain lines even on a terminal; never = none.
    #[arg(
        long = "progress",
        value_enum,
        value_name = "WHEN",
        default_value = "auto"
    )]
    pub mode: ProgressMode,
}

/// `bsonflow verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The export: a folder, or s3://BUCKET/PREFIX, oss://BUCKET/PREFIX.
    #[arg(value_name = "EXPORT")]
    pub export: PathBuf,

    /// The backup the export was made from, read as `convert` reads it: the export must
    /// hold its documents, in order.
    #[arg(long, value_name = "INPUT", conflicts_with = "shards")]
    pub input: Option<PathBuf>,

    /// For the export of a sharded cluster: one shard's backup, NAME=INPUT as given to
    /// `convert` (NAME = the shard's replica-set name); repeatable. Each shard's files
    /// (NAME.<n>.json.gz) must hold that input's documents, in order.
    // This doc comment is the `--help` text, where `<n>` is meant literally, not as HTML.
    #[allow(rustdoc::invalid_html_tags)]
    #[arg(long = "shard", value_name = "NAME=INPUT")]
    pub shards: Vec<String>,

    /// Print the result as JSON on stdout (schema in the README, "Is my export whole?").
    #[arg(long)]
    pub json: bool,

    /// With --input: the --include patterns the export was made with; repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub include: Vec<String>,

    /// With --input: the --exclude patterns the export was made with; repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub exclude: Vec<String>,

    /// With --input of a single .bson file: its namespace.
    #[arg(long, value_name = "DB.COLL")]
    pub ns: Option<String>,

    /// With --input of a single .bson file: its database.
    #[arg(long, value_name = "DB")]
    pub db: Option<String>,

    /// With --input of a physical backup: where to unpack it (default: beside the export).
    #[arg(long, value_name = "DIR")]
    pub scratch: Option<PathBuf>,

    /// Worker threads (default: one per core).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,

    /// Do not draw progress bars.
    #[arg(long, short)]
    pub quiet: bool,

    #[command(flatten)]
    pub progress: ProgressArgs,

    #[command(flatten)]
    pub storage: StorageArgs,
}

/// `bsonflow completions`.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Where `s3://` and `oss://` locations are served.
// The doc comments are the `--help` text, where URLs are meant as plain text.
#[allow(rustdoc::bare_urls)]
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Object storage (s3://, oss://, https://)")]
pub struct StorageArgs {
    /// An S3-compatible server instead of AWS (MinIO, Ceph…), addressed path-style
    /// (http://HOST:PORT/BUCKET/KEY); for oss://, the service endpoint in place of
    /// https://s3.oss-REGION.aliyuncs.com (a VPC endpoint, say). Plain http:// only when
    /// written here.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,

    /// The bucket's region: required for oss:// (cn-hangzhou or oss-cn-hangzhou); for s3://
    /// the default is AWS_REGION, then AWS_DEFAULT_REGION, then us-east-1.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// Address --endpoint virtual-hosted style (http://BUCKET.HOST:PORT/KEY).
    #[arg(long)]
    pub virtual_hosted: bool,

    /// Send requests for HOST to ADDRESS instead of asking DNS, like curl's --resolve (a
    /// test server, split-horizon DNS); repeatable.
    #[arg(long, value_name = "HOST=ADDRESS")]
    pub resolve: Vec<String>,
}

/// Fields of the `.complete` marker.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = ".complete marker fields")]
pub struct MarkerArgs {
    /// orgId (24 hex digits in Atlas).
    #[arg(long, value_name = "ID", default_value = "")]
    pub org_id: String,
    /// orgName.
    #[arg(long, value_name = "NAME", default_value = "")]
    pub org_name: String,
    /// groupId (the project id).
    #[arg(long, value_name = "ID", default_value = "")]
    pub group_id: String,
    /// groupName (the project name).
    #[arg(long, value_name = "NAME", default_value = "")]
    pub group_name: String,
    /// clusterUniqueId.
    #[arg(long, value_name = "ID", default_value = "")]
    pub cluster_id: String,
    /// clusterName (default: the input's file name).
    #[arg(long, value_name = "NAME")]
    pub cluster_name: Option<String>,
    /// snapshotInitiationDate, ISO-8601 UTC (default: the start of the run).
    #[arg(long, value_name = "DATE")]
    pub snapshot_date: Option<String>,
    /// A label KEY=VALUE; repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// A customData entry KEY=VALUE; repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    pub custom_data: Vec<String>,
}

#[derive(Args, Debug)]
pub struct UnpackArgs {
    /// The physical backup: an xbstream (_qp.xb) or tar / tar.gz / tar.zst file.
    pub input: PathBuf,

    /// Where to write the data directory; created if absent, must be empty if present.
    #[arg(short, long, value_name = "DIR")]
    pub out: PathBuf,

    /// Worker threads for decompression (default: one per core).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,

    /// Do not draw progress bars.
    #[arg(long, short)]
    pub quiet: bool,

    #[command(flatten)]
    pub progress: ProgressArgs,
}

/// One input of a run, with the shard name given for it (`--shard NAME=INPUT`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputSpec {
    pub path: PathBuf,
    pub shard: Option<String>,
}

/// `--shard NAME=INPUT` (of `convert`, `plan` and `verify`).
pub fn parse_shard(text: &str) -> Result<InputSpec, String> {
    match text.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => Ok(InputSpec {
            path: PathBuf::from(path),
            shard: Some(name.to_string()),
        }),
        _ => Err(format!(
            "--shard {text}: expected NAME=INPUT, e.g. --shard rs0=rs0_backup.tar.zst"
        )),
    }
}

impl ConvertArgs {
    /// `convert`'s defaults for reading `input` alone (what `inspect` and `verify` share
    /// with it); `out` is where a physical backup's scratch folder and spill files go.
    pub fn for_reading(input: &std::path::Path, out: &std::path::Path) -> ConvertArgs {
        use clap::FromArgMatches;
        let command = ConvertArgs::augment_args(clap::Command::new("convert"));
        let matches = command.get_matches_from([
            std::ffi::OsStr::new("convert"),
            std::ffi::OsStr::new("--out"),
            out.as_os_str(),
            // After `--`, an input whose name starts with `-` is still the input.
            std::ffi::OsStr::new("--"),
            input.as_os_str(),
        ]);
        let mut args = ConvertArgs::from_arg_matches(&matches).expect("convert's defaults parse");
        // The one input, set as `convert` sets it for each of its inputs.
        args.input = input.to_path_buf();
        args
    }

    /// Every input, in the order given: the positional ones, then each `--shard NAME=INPUT`.
    pub fn input_specs(&self) -> Result<Vec<InputSpec>, String> {
        let mut specs: Vec<InputSpec> = self
            .inputs
            .iter()
            .map(|p| InputSpec {
                path: p.clone(),
                shard: None,
            })
            .collect();
        for text in &self.shards {
            specs.push(parse_shard(text)?);
        }
        if specs.len() > 1 && self.shard_name.is_some() {
            return Err(
                "--shard-name names the one input of a run; with several inputs name each with --shard NAME=INPUT"
                    .into(),
            );
        }
        Ok(specs)
    }

    /// These arguments for opening one of several inputs, told apart by `tag` (its index, or
    /// `config-server`), or the only one (`None`).
    pub fn for_input(&self, spec: &InputSpec, tag: Option<String>) -> ConvertArgs {
        let mut one = self.clone();
        one.input = spec.path.clone();
        one.scratch_tag = tag;
        if spec.shard.is_some() {
            one.shard_name = spec.shard.clone();
        }
        one
    }

    /// These arguments with their one input set, for the commands that take exactly one
    /// (`plan`, `run-task`): several inputs are refused.
    pub fn single_input(self, command: &str) -> Result<ConvertArgs, String> {
        let specs = self.input_specs()?;
        match specs.as_slice() {
            [one] => Ok(self.for_input(one, None)),
            _ => Err(format!(
                "{command} takes one input; {} were given (a sharded cluster's shards are converted together by `bsonflow convert`)",
                specs.len()
            )),
        }
    }
}

/// Parses `16M`, `64MiB`, `1G`, `4096`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits_end);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a size like 16M or 1048576"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("`{text}`: unknown unit (use K, M or G)")),
    };
    let v = n
        .checked_mul(mult)
        .ok_or_else(|| format!("`{text}` is too large"))?;
    if v == 0 {
        return Err("the size must be at least 1 byte".into());
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16M"), Ok(16 << 20));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("0").is_err());
        assert!(parse_size("12Q").is_err());
        assert!(parse_size("M").is_err());
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
