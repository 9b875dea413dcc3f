# ssm-session: a shell on specific EC2 instances through SSM Session Manager,
# instead of SSH keys and open ports. Sessions are logged by Session Manager.
role "ssm-session" {
  description = "Start Session Manager sessions on the granted instances and end your own sessions"

  # The grant's resources are instance ARNs, e.g.
  # arn:aws:ec2:us-east-1:123456789012:instance/*
  statement {
    actions   = ["ssm:StartSession"]
    resources = []
  }

  # The session documents a session may run: the default shell and port forwarding.
  statement {
    actions = ["ssm:StartSession"]
    resources = [
      "arn:aws:ssm:*:*:document/SSM-SessionManagerRunShell",
      "arn:aws:ssm:*::document/AWS-StartPortForwardingSession",
    ]
  }

  # Only your own sessions: an IAM user's session ids start with the user
  # name. "$${...}" is HCL's escape for a literal "${...}", the IAM policy variable.
  statement {
    actions   = ["ssm:TerminateSession", "ssm:ResumeSession"]
    resources = ["arn:aws:ssm:*:*:session/$${aws:username}-*"]
  }

  # Finding instances and sessions. These calls need "*".
  statement {
    actions = [
      "ec2:DescribeInstances",
      "ssm:DescribeInstanceInformation",
      "ssm:DescribeSessions",
      "ssm:GetConnectionStatus",
    ]
    resources = ["*"]
  }
}
