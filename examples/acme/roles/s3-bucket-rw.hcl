# s3-bucket-rw: read and write objects in specific buckets.
# No bucket configuration (policy, ACL, lifecycle, encryption) and no
# s3:DeleteObjectVersion, so versioned buckets keep their history.
role "s3-bucket-rw" {
  description = "Read, write and delete objects in the granted S3 buckets"

  # Grant both the bucket and its objects, e.g.
  # ["arn:aws:s3:::acme-prod-data", "arn:aws:s3:::acme-prod-data/*"].
  statement {
    actions = [
      "s3:ListBucket",
      "s3:ListBucketMultipartUploads",
      "s3:GetBucketLocation",
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = []
  }
}
