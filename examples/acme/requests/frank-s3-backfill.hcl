# Frank (eng) backfills missing exports. Narrowed to the exports/ prefix;
# needs two approvals from team:dba or team:security (not Frank himself).
request "frank-s3-backfill" {
  requester = "frank"
  contract  = "prod-data-bucket-rw"
  duration  = "4h"
  reason    = "DATA-88: backfill the October exports that failed to upload"
  resources = ["arn:aws:s3:::acme-prod-data", "arn:aws:s3:::acme-prod-data/exports/*"]
}
