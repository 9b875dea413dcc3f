# s3-bucket-read: list and download objects in specific buckets.
role "s3-bucket-read" {
  description = "List and download objects in the granted S3 buckets"

  # Grant both the bucket and its objects, e.g.
  # ["arn:aws:s3:::acme-prod-data", "arn:aws:s3:::acme-prod-data/*"]:
  # bucket-level actions match the first, object-level actions the second.
  statement {
    actions = [
      "s3:ListBucket",
      "s3:ListBucketVersions",
      "s3:GetBucketLocation",
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:GetObjectTagging",
    ]
    resources = []
  }
}
